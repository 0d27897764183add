//! **poolside-macros** holds `#[derive(FromRow)]`, re-exported by poolside-core and the
//! facade. See the README.
//!
//! It may import: outside crates only (it generates code that names poolside-core's
//! or the facade's items by path).
//! It must never import: any poolside crate (a proc-macro crate cannot export them).

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{Data, DeriveInput, Fields, LitStr, Path, parse_macro_input};

/// Implements `FromRow` for a struct: each named field reads the column of its name
/// (`#[from_row(rename = "column")]` another, `#[from_row(flatten)]` builds it from
/// the same row), a tuple struct's fields read columns by position.
/// `#[from_row(crate = "poolside_core")]` names the crate the trait comes from
/// (default `poolside`).
#[proc_macro_derive(FromRow, attributes(from_row))]
pub fn derive_from_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// How one field is read.
enum Read {
    /// From the column of this name.
    Column(String),
    /// From the column at this position.
    Position(usize),
    /// By the field type's own `FromRow`.
    Flatten,
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let krate = crate_path(input)?;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "FromRow is derived for structs only: build an enum from a row by hand",
        ));
    };
    let read = |ty: &syn::Type, read: Read| match read {
        Read::Column(name) => quote!(row.try_get::<&str, #ty>(#name)?),
        Read::Position(index) => quote!(row.try_get::<usize, #ty>(#index)?),
        Read::Flatten => quote!(<#ty as #krate::FromRow>::from_row(row)?),
    };
    let body = match &data.fields {
        Fields::Named(fields) => {
            let fields = fields
                .named
                .iter()
                .map(|field| {
                    let ident = field.ident.as_ref().expect("named fields have names");
                    let default = ident.to_string().trim_start_matches("r#").to_owned();
                    let value = read(&field.ty, field_read(field, Read::Column(default))?);
                    Ok(quote!(#ident: #value))
                })
                .collect::<syn::Result<Vec<_>>>()?;
            quote!(Self { #(#fields),* })
        }
        Fields::Unnamed(fields) => {
            let fields = fields
                .unnamed
                .iter()
                .enumerate()
                .map(|(index, field)| {
                    Ok(read(&field.ty, field_read(field, Read::Position(index))?))
                })
                .collect::<syn::Result<Vec<_>>>()?;
            quote!(Self(#(#fields),*))
        }
        Fields::Unit => quote!(Self),
    };
    let name = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics #krate::FromRow for #name #type_generics #where_clause {
            fn from_row(row: &#krate::Row) -> ::core::result::Result<Self, #krate::PgError> {
                ::core::result::Result::Ok(#body)
            }
        }
    })
}

/// The crate named by `#[from_row(crate = "...")]`, or `::poolside`.
fn crate_path(input: &DeriveInput) -> syn::Result<Path> {
    let mut krate: Path = syn::parse_quote!(::poolside);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("from_row")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                krate = meta.value()?.parse::<LitStr>()?.parse()?;
                Ok(())
            } else {
                Err(meta
                    .error("unknown from_row attribute on a struct: expected `crate = \"...\"`"))
            }
        })?;
    }
    Ok(krate)
}

/// How `field` is read: its `#[from_row(...)]` attribute, or `default`.
fn field_read(field: &syn::Field, default: Read) -> syn::Result<Read> {
    let mut read = default;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("from_row")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                read = Read::Column(meta.value()?.parse::<LitStr>()?.value());
                Ok(())
            } else if meta.path.is_ident("flatten") {
                read = Read::Flatten;
                Ok(())
            } else {
                Err(meta.error("unknown from_row attribute on a field: expected `rename = \"column\"` or `flatten`"))
            }
        })?;
    }
    Ok(read)
}
