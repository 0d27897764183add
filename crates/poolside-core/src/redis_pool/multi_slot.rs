//! Commands over keys in several slots of a cluster (`MGET`, `DEL`, `MSET`, ...): the
//! parts of one slot each that the pool sends them in ([`split`] into [`Parts`]), and
//! their answers put back together as the cluster client puts its own sub-commands'
//! ([`Parts::answer`]).
//!
//! The cluster client would split such a command by slot itself, and send the parts all
//! at once. Two reasons not to let it. Its fan-out skips, without a word, every node it
//! holds no connection to at that moment (after a failover, a primary it has not
//! connected to yet): an `MSET` or `DEL` then reports success, a `DEL` or `EXISTS`
//! counts short, an `MGET` fails on the mismatch. A command of one slot goes to its node
//! the usual way, connecting if need be, followed by MOVED and ASK, or failing plainly.
//! And one command over hundreds of slots is a burst by itself, the kind that stalls
//! the client after slots move (see `cluster_room.rs`): the pool sends parts a few at
//! a time, within the room.

use std::collections::HashMap;

use redis::cluster_routing::Slot;
use redis::{Arg, Value};

/// How the answers of a command's parts make its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Combine {
    /// One array, each part's answers at the places of its keys (`MGET`).
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

/// A command split by slot: one command per slot its keys fall in, in the order the
/// slots first appear, and where each part's keys sit in the command.
#[derive(Debug)]
pub(super) struct Parts {
    commands: Vec<redis::Cmd>,
    /// For each part, the places of its keys among the command's.
    places: Vec<Vec<usize>>,
    combine: Combine,
}

/// `cmd` in parts of one slot each; `None` when its keys fall in one slot (or it is
/// not a command the cluster client splits by slot), and it goes as it is.
pub(super) fn split(cmd: &redis::Cmd) -> Option<Parts> {
    let (kind, rest) = parse(cmd)?;
    let (keyed, trailing) = rest.split_at(rest.len().saturating_sub(kind.trailing));
    let mut part_of: HashMap<Slot, usize> = HashMap::new();
    let mut groups: Vec<Vec<&[&[u8]]>> = Vec::new();
    let mut places: Vec<Vec<usize>> = Vec::new();
    for (place, group) in keyed.chunks(kind.step).enumerate() {
        let part = *part_of.entry(Slot::for_key(group[0])).or_insert_with(|| {
            groups.push(Vec::new());
            places.push(Vec::new());
            groups.len() - 1
        });
        groups[part].push(group);
        places[part].push(place);
    }
    if groups.len() < 2 {
        return None;
    }
    let commands = groups
        .into_iter()
        .map(|groups| {
            let mut part = redis::cmd(kind.name);
            for arg in groups.into_iter().flatten().chain(trailing) {
                part.arg(*arg);
            }
            part
        })
        .collect();
    Some(Parts {
        commands,
        places,
        combine: kind.combine,
    })
}

impl Parts {
    /// The parts, one command per slot.
    pub(super) fn commands(&self) -> &[redis::Cmd] {
        &self.commands
    }

    /// The command's answer from its parts' `answers`, in the order of
    /// [`commands`](Self::commands).
    pub(super) fn answer(&self, answers: Vec<Value>) -> redis::RedisResult<Value> {
        let unexpected = |what: &'static str| {
            redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, what))
        };
        if answers.len() != self.commands.len() {
            return Err(unexpected(
                "a split command lacks the answers of some parts",
            ));
        }
        match self.combine {
            Combine::Arrays => {
                let mut all = vec![Value::Nil; self.places.iter().map(Vec::len).sum()];
                for (answer, places) in answers.into_iter().zip(&self.places) {
                    match answer {
                        Value::Array(values) if values.len() == places.len() => {
                            for (value, &place) in values.into_iter().zip(places) {
                                all[place] = value;
                            }
                        }
                        _ => {
                            return Err(unexpected(
                                "a part of a split command was not an array of its keys' values",
                            ));
                        }
                    }
                }
                Ok(Value::Array(all))
            }
            Combine::Sum => answers
                .into_iter()
                .try_fold(0_i64, |sum, answer| match answer {
                    Value::Int(n) => Ok(sum.saturating_add(n)),
                    _ => Err(unexpected("a part of a split command was not a count")),
                })
                .map(Value::Int),
            Combine::AllSucceeded => Ok(answers.into_iter().next().unwrap_or(Value::Okay)),
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

    /// The slots of the keys of `part` (every `step`-th argument after the name).
    fn slots(part: &redis::Cmd, step: usize) -> Vec<Slot> {
        args(part)[1..]
            .iter()
            .step_by(step)
            .map(Slot::for_key)
            .collect()
    }

    #[test]
    fn a_command_over_several_slots_goes_in_parts_of_one_slot() {
        let keys = keys(100);
        let parts = split(redis::cmd("MGET").arg(&keys)).expect("100 keys, many slots");
        assert_eq!(parts.combine, Combine::Arrays);
        let mut seen = vec![false; keys.len()];
        for (part, places) in parts.commands().iter().zip(&parts.places) {
            let slots = slots(part, 1);
            assert!(
                slots.iter().all(|&slot| slot == slots[0]),
                "one slot a part"
            );
            let args = args(part);
            assert_eq!(args[0], b"MGET");
            for (key, &place) in args[1..].iter().zip(places) {
                assert_eq!(key, keys[place].as_bytes(), "each key at its place");
                seen[place] = true;
            }
        }
        assert!(seen.iter().all(|&s| s), "every key once");
        // Keys of one slot, and commands not split by slot, go as they are.
        let tagged: Vec<String> = (0..100).map(|i| format!("{{t}}{i}")).collect();
        assert!(split(redis::cmd("DEL").arg(&tagged)).is_none());
        assert!(split(redis::cmd("GET").arg("a")).is_none());
        assert!(split(&redis::cmd("MGET")).is_none());
    }

    #[test]
    fn keys_of_one_slot_share_a_part_wherever_they_sit() {
        let cmd = redis::cmd("MGET")
            .arg(&["{a}1", "{b}1", "{a}2", "{b}2", "{c}"])
            .clone();
        let parts = split(&cmd).expect("three slots");
        assert_eq!(parts.commands().len(), 3);
        assert_eq!(parts.places, [vec![0, 2], vec![1, 3], vec![4]]);
        let answers = vec![
            Value::Array(vec![Value::Int(0), Value::Int(2)]),
            Value::Array(vec![Value::Int(1), Value::Nil]),
            Value::Array(vec![Value::Int(4)]),
        ];
        assert_eq!(
            parts.answer(answers),
            Ok(Value::Array(vec![
                Value::Int(0),
                Value::Int(1),
                Value::Int(2),
                Value::Nil,
                Value::Int(4)
            ])),
            "each value back at its key's place"
        );
    }

    #[test]
    fn a_part_keeps_each_key_with_its_values_and_the_trailing_arguments() {
        let keys = keys(10);
        let pairs: Vec<(&str, String)> =
            keys.iter().map(|k| (k.as_str(), format!("v{k}"))).collect();
        let parts = split(redis::cmd("MSET").arg(&pairs)).expect("parts");
        assert_eq!(parts.combine, Combine::AllSucceeded);
        for part in parts.commands() {
            let args = args(part);
            assert_eq!(args.len() % 2, 1, "name, then pairs");
            for pair in args[1..].chunks(2) {
                assert_eq!([b"v", pair[0].as_slice()].concat(), pair[1]);
            }
            let slots = slots(part, 2);
            assert!(slots.iter().all(|&slot| slot == slots[0]));
        }
        let json = redis::cmd("JSON.MGET").arg(&keys).arg("$.x").clone();
        let parts = split(&json).expect("parts");
        assert!(parts.commands().len() > 1);
        for part in parts.commands() {
            assert_eq!(args(part).last().map(Vec::as_slice), Some(&b"$.x"[..]));
        }
        let mut cursor = redis::cmd("MGET");
        cursor.arg(&keys).cursor_arg(0);
        assert!(split(&cursor).is_none(), "a cursor goes as it is");
    }

    #[test]
    fn counts_add_up_and_a_short_or_odd_answer_is_an_error() {
        let keys = keys(3);
        let parts = |name: &str| split(redis::cmd(name).arg(&keys)).expect("3 slots");
        assert_eq!(parts("DEL").commands().len(), 3);
        assert_eq!(
            parts("DEL").answer(vec![Value::Int(2), Value::Int(0), Value::Int(5)]),
            Ok(Value::Int(7))
        );
        assert_eq!(
            parts("WATCH").answer(vec![Value::Okay, Value::Okay, Value::Okay]),
            Ok(Value::Okay)
        );
        assert!(
            parts("EXISTS")
                .answer(vec![Value::Int(1), Value::Int(1)])
                .is_err()
        );
        assert!(parts("UNLINK").answer(vec![Value::Okay; 3]).is_err());
        assert!(parts("MGET").answer(vec![Value::Nil; 3]).is_err());
        assert!(
            parts("MGET").answer(vec![Value::Array(vec![]); 3]).is_err(),
            "one value a key"
        );
    }
}
