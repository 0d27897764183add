//! Commands over keys in many slots of a cluster (`MGET`, `DEL`, `MSET`, ...): how many
//! slots one touches ([`slots_of`]), and the parts the pool sends it in when it touches
//! more than a shared connection should carry at once ([`split`] into [`Parts`]), their
//! answers put back together as the cluster client puts its own sub-commands'
//! ([`Combine`]).
//!
//! The cluster client sends such a command to each slot apart, all at once: one over
//! hundreds of slots is a burst by itself, the kind that stalls the client after slots
//! move (see `cluster_room.rs`). Parts keep each request within the room.

use std::collections::HashSet;

use redis::cluster_routing::Slot;
use redis::{Arg, Value};

/// How the answers of a command's parts make its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Combine {
    /// One array, the parts' in order (`MGET`).
    Arrays,
    /// The sum of the parts' counts (`DEL`, `EXISTS`).
    Sum,
    /// The first part's answer, every part having succeeded (`MSET`).
    AllSucceeded,
}

/// A command the cluster client splits by slot: its name, where its keys sit among the
/// arguments after the name (every `step`-th from the first, all but the last
/// `trailing`), and how its answers combine. The client's own list.
struct MultiSlot {
    name: &'static str,
    step: usize,
    trailing: usize,
    combine: Combine,
}

const MULTI_SLOT: [MultiSlot; 9] = [
    MultiSlot::new("MGET", 1, 0, Combine::Arrays),
    MultiSlot::new("DEL", 1, 0, Combine::Sum),
    MultiSlot::new("EXISTS", 1, 0, Combine::Sum),
    MultiSlot::new("UNLINK", 1, 0, Combine::Sum),
    MultiSlot::new("TOUCH", 1, 0, Combine::Sum),
    MultiSlot::new("WATCH", 1, 0, Combine::AllSucceeded),
    MultiSlot::new("MSET", 2, 0, Combine::AllSucceeded),
    MultiSlot::new("JSON.MGET", 1, 1, Combine::Arrays),
    MultiSlot::new("JSON.MSET", 3, 0, Combine::AllSucceeded),
];

impl MultiSlot {
    const fn new(name: &'static str, step: usize, trailing: usize, combine: Combine) -> Self {
        Self {
            name,
            step,
            trailing,
            combine,
        }
    }
}

/// `cmd` read as a command of [`MULTI_SLOT`]: its kind, its key groups (a key with the
/// values after it) and its trailing arguments. `None` for any other command, or one
/// with an argument the pool cannot read (a cursor).
fn parse(cmd: &redis::Cmd) -> Option<(&'static MultiSlot, Vec<&[u8]>)> {
    let mut args = cmd.args_iter();
    let Some(Arg::Simple(name)) = args.next() else {
        return None;
    };
    let kind = MULTI_SLOT
        .iter()
        .find(|kind| kind.name.as_bytes().eq_ignore_ascii_case(name))?;
    let rest = args
        .map(|arg| match arg {
            Arg::Simple(bytes) => Some(bytes),
            _ => None,
        })
        .collect::<Option<Vec<&[u8]>>>()?;
    Some((kind, rest))
}

/// How many slots `cmd` touches as the cluster client sends it: one per slot of its
/// keys for a command the client splits by slot, one for any other.
pub(super) fn slots_of(cmd: &redis::Cmd) -> u16 {
    let Some((kind, rest)) = parse(cmd) else {
        return 1;
    };
    let keys = &rest[..rest.len().saturating_sub(kind.trailing)];
    let slots: HashSet<Slot> = keys.iter().step_by(kind.step).map(Slot::for_key).collect();
    // At most 16,384 slots.
    u16::try_from(slots.len()).unwrap_or(u16::MAX).max(1)
}

/// A command split by slot: its parts, in the order of its keys, each with the slots
/// it touches, and how their answers make the command's.
#[derive(Debug)]
pub(super) struct Parts {
    pub(super) commands: Vec<(redis::Cmd, u16)>,
    pub(super) combine: Combine,
}

/// One part being filled: its key groups (a key and the values after it) and the slots
/// they fall in.
#[derive(Default)]
struct Part<'a> {
    groups: Vec<&'a [&'a [u8]]>,
    slots: HashSet<Slot>,
}

/// `cmd` in parts of its keys, in order, each touching at most `most` slots; `None`
/// when it touches no more than that (or is not split by slot), and goes as it is.
pub(super) fn split(cmd: &redis::Cmd, most: u16) -> Option<Parts> {
    let (kind, rest) = parse(cmd)?;
    let (keyed, trailing) = rest.split_at(rest.len().saturating_sub(kind.trailing));
    let most = usize::from(most.max(1));
    let mut parts = vec![Part::default()];
    for group in keyed.chunks(kind.step) {
        let slot = Slot::for_key(group[0]);
        let last = parts.last_mut().expect("one part at least");
        if last.slots.len() == most && !last.slots.contains(&slot) {
            parts.push(Part::default());
        }
        let last = parts.last_mut().expect("one part at least");
        last.groups.push(group);
        last.slots.insert(slot);
    }
    if parts.len() < 2 {
        return None;
    }
    let commands = parts
        .into_iter()
        .map(|part| {
            let mut cmd = redis::cmd(kind.name);
            for arg in part.groups.into_iter().flatten().chain(trailing) {
                cmd.arg(*arg);
            }
            // At most `most`, a u16.
            (cmd, u16::try_from(part.slots.len()).unwrap_or(u16::MAX))
        })
        .collect();
    Some(Parts {
        commands,
        combine: kind.combine,
    })
}

impl Combine {
    /// The command's answer from its parts' answers, in order.
    pub(super) fn answers(self, answers: Vec<Value>) -> redis::RedisResult<Value> {
        let unexpected = |what: &'static str| {
            redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, what))
        };
        match self {
            Self::Arrays => {
                let mut all = Vec::new();
                for answer in answers {
                    match answer {
                        Value::Array(values) => all.extend(values),
                        _ => return Err(unexpected("a part of a split command was not an array")),
                    }
                }
                Ok(Value::Array(all))
            }
            Self::Sum => answers
                .into_iter()
                .try_fold(0_i64, |sum, answer| match answer {
                    Value::Int(n) => Ok(sum.saturating_add(n)),
                    _ => Err(unexpected("a part of a split command was not a count")),
                })
                .map(Value::Int),
            Self::AllSucceeded => Ok(answers.into_iter().next().unwrap_or(Value::Okay)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("key:{i}")).collect()
    }

    fn args(cmd: &redis::Cmd) -> Vec<Vec<u8>> {
        cmd.args_iter()
            .map(|arg| match arg {
                Arg::Simple(bytes) => bytes.to_vec(),
                _ => b"<cursor>".to_vec(),
            })
            .collect()
    }

    #[test]
    fn a_multi_key_command_counts_each_slot_once() {
        assert_eq!(slots_of(redis::cmd("GET").arg("a")), 1);
        assert_eq!(slots_of(&redis::cmd("PING")), 1);
        assert_eq!(slots_of(&redis::cmd("MGET")), 1);
        // {tag} keys share a slot: one sub-command, one place.
        assert_eq!(
            slots_of(redis::cmd("MGET").arg(&["{t}a", "{t}b", "{t}c"])),
            1
        );
        let keys = keys(40);
        let slots: HashSet<_> = keys.iter().map(Slot::for_key).collect();
        assert!(slots.len() > 30, "40 keys over {} slots", slots.len());
        assert_eq!(
            usize::from(slots_of(redis::cmd("MGET").arg(&keys))),
            slots.len()
        );
        assert_eq!(
            usize::from(slots_of(redis::cmd("unlink").arg(&keys))),
            slots.len()
        );
        // MSET's values and JSON.MGET's path are not keys; SET touches its key alone.
        let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "{t}v")).collect();
        assert_eq!(
            usize::from(slots_of(redis::cmd("MSET").arg(&pairs))),
            slots.len()
        );
        let json = redis::cmd("JSON.MGET")
            .arg(&["{t}a", "{t}b"])
            .arg("$.x")
            .clone();
        assert_eq!(slots_of(&json), 1);
        assert_eq!(slots_of(redis::cmd("SET").arg("a").arg("b")), 1);
    }

    #[test]
    fn a_command_over_more_slots_than_allowed_goes_in_ordered_parts() {
        let keys = keys(100);
        let mget = redis::cmd("MGET").arg(&keys).clone();
        assert!(split(&mget, 200).is_none(), "within the bound: as it is");
        assert!(split(redis::cmd("GET").arg("a"), 1).is_none());
        let parts = split(&mget, 16).expect("100 keys over 16 slots a part");
        assert_eq!(parts.combine, Combine::Arrays);
        let parts = parts.commands;
        assert!(parts.len() >= 100 / 16, "{} parts", parts.len());
        let mut sent = Vec::new();
        for (part, slots) in &parts {
            let args = args(part);
            assert_eq!(args[0], b"MGET");
            assert!(*slots <= 16 && *slots == slots_of(part), "{slots}");
            sent.extend(args[1..].iter().cloned());
        }
        let expected: Vec<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
        assert_eq!(sent, expected, "every key once, in order");
        // Keys of one slot never force a part of their own.
        let tagged: Vec<String> = (0..100).map(|i| format!("{{t}}{i}")).collect();
        assert!(split(redis::cmd("DEL").arg(&tagged), 1).is_none());
    }

    #[test]
    fn a_part_keeps_each_key_with_its_values_and_the_trailing_arguments() {
        let keys = keys(10);
        let pairs: Vec<(&str, String)> =
            keys.iter().map(|k| (k.as_str(), format!("v{k}"))).collect();
        let parts = split(redis::cmd("MSET").arg(&pairs), 3).expect("parts");
        assert_eq!(parts.combine, Combine::AllSucceeded);
        for (part, _) in &parts.commands {
            let args = args(part);
            assert_eq!(args.len() % 2, 1, "name, then pairs");
            for pair in args[1..].chunks(2) {
                assert_eq!([b"v", pair[0].as_slice()].concat(), pair[1]);
            }
        }
        let json = redis::cmd("JSON.MGET").arg(&keys).arg("$.x").clone();
        let parts = split(&json, 3).expect("parts").commands;
        assert!(parts.len() > 1);
        for (part, _) in &parts {
            assert_eq!(args(part).last().map(Vec::as_slice), Some(&b"$.x"[..]));
        }
        let mut cursor = redis::cmd("MGET");
        cursor.arg(&keys).cursor_arg(0);
        assert!(split(&cursor, 1).is_none(), "a cursor goes as it is");
    }

    #[test]
    fn the_parts_answers_combine_as_the_cluster_client_combines_its_own() {
        let array = |values: &[i64]| Value::Array(values.iter().copied().map(Value::Int).collect());
        assert_eq!(
            Combine::Arrays.answers(vec![array(&[1, 2]), array(&[]), array(&[3])]),
            Ok(array(&[1, 2, 3]))
        );
        assert_eq!(
            Combine::Sum.answers(vec![Value::Int(2), Value::Int(0), Value::Int(5)]),
            Ok(Value::Int(7))
        );
        assert_eq!(
            Combine::AllSucceeded.answers(vec![Value::Okay, Value::Okay]),
            Ok(Value::Okay)
        );
        assert!(Combine::Sum.answers(vec![Value::Okay]).is_err());
        assert!(Combine::Arrays.answers(vec![Value::Nil]).is_err());
    }
}
