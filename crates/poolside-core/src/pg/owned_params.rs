//! [`OwnedParam`]: a statement parameter encoded at once, so that a request can
//! outlive the caller's borrow of its parameters (a statement sent with
//! `execute_pipelined`, whose answer is read later).

use std::error::Error;

use bytes::{Bytes, BytesMut};
use tokio_postgres::Statement;
use tokio_postgres::types::{Format, IsNull, ToSql, Type, to_sql_checked};

use super::params::{check_count, does_not_convert};
use super::{Params, PgError};

/// One parameter, already in its wire form for the statement's type: the driver
/// copies the bytes as they are.
#[derive(Debug)]
pub(crate) struct OwnedParam {
    /// `None` for NULL.
    value: Option<Bytes>,
    format: Format,
}

/// Encodes `params` for `statement`. Fails, before anything is sent, when their count
/// or a type does not fit, as the driver would.
pub(crate) fn encode(
    statement: &Statement,
    params: Params<'_>,
) -> Result<Vec<OwnedParam>, PgError> {
    let types = statement.params();
    check_count(types.len(), params.len())?;
    // One buffer, split per parameter: a single allocation for small parameters.
    let mut buf = BytesMut::with_capacity(16 * params.len());
    let mut owned = Vec::with_capacity(params.len());
    for (index, (param, ty)) in params.iter().zip(types).enumerate() {
        let value = match param.to_sql_checked(ty, &mut buf) {
            Ok(IsNull::No) => Some(buf.split().freeze()),
            Ok(IsNull::Yes) => None,
            Err(e) => return Err(does_not_convert(index, e)),
        };
        owned.push(OwnedParam {
            value,
            format: param.encode_format(ty),
        });
    }
    Ok(owned)
}

impl ToSql for OwnedParam {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        Ok(match &self.value {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                IsNull::No
            }
            None => IsNull::Yes,
        })
    }

    /// Checked when it was encoded, against the statement's own type.
    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        self.format
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `param` writes for `ty`: `None` for NULL.
    fn wire(param: &OwnedParam, ty: &Type) -> Option<Vec<u8>> {
        let mut out = BytesMut::new();
        match param.to_sql_checked(ty, &mut out).expect("writes") {
            IsNull::No => Some(out.to_vec()),
            IsNull::Yes => None,
        }
    }

    #[test]
    fn a_value_is_written_as_it_was_encoded_and_none_as_null() {
        let mut buf = BytesMut::new();
        42_i64
            .to_sql_checked(&Type::INT8, &mut buf)
            .expect("encodes");
        let value = OwnedParam {
            value: Some(buf.freeze()),
            format: Format::Binary,
        };
        assert_eq!(
            wire(&value, &Type::INT8),
            Some(42_i64.to_be_bytes().to_vec())
        );
        let null = OwnedParam {
            value: None,
            format: Format::Binary,
        };
        assert_eq!(wire(&null, &Type::INT8), None);
    }
}
