//! Commands over keys in several slots of a cluster (`MGET`, `DEL`, `MSET`, ...): the
//! parts the pool sends them in ([`split`] into [`Parts`]), and their answers put back
//! together as the cluster client puts its own sub-commands' ([`Parts::answer`]).
//!
//! The cluster client splits such a command by slot itself and sends the parts all at
//! once; its fan-out skips, without a word, every node it holds no connection to at
//! that moment (after a failover, a primary it has not connected to yet). An `MSET` or
//! `DEL` then reports success, a `DEL` or `EXISTS` counts short: so these go in parts
//! of one slot each, each to its node the usual way (connecting if need be, followed
//! by MOVED and ASK, or failing plainly). An `MGET` fails loudly on the mismatch
//! instead, and the client's split costs a third of the pool's: it goes in chunks the
//! client splits, of a few slots each, and the pool sends a failed chunk again in
//! parts of one slot. Either way one command over hundreds of slots is no longer a
//! burst by itself, the kind that stalls the client after slots move
//! (`cluster_room.rs`).

use std::collections::{HashMap, HashSet};

use redis::cluster_routing::Slot;
use redis::{Arg, Value};

/// How the answers of a command's parts make its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Combine {
    /// One array, each part's answers at the places of its keys (`MGET`). The
    /// cluster client checks the count of its own parts' answers: a part it left out
    /// fails the command.
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

/// A command split by slot: its parts, each with the slots it reaches, in the order
/// the keys first reach them, and where each part's keys sit in the command.
#[derive(Debug)]
pub(super) struct Parts {
    commands: Vec<(redis::Cmd, u16)>,
    /// For each part, the places of its keys among the command's.
    places: Vec<Vec<usize>>,
    combine: Combine,
}

/// How the pool sends a command on a cluster.
#[derive(Debug)]
pub(super) enum Plan {
    /// As it is, reaching `slots` slots: one, but for an `MGET` over a few slots that
    /// the cluster client splits itself.
    Whole { slots: u16 },
    /// In parts.
    Parts(Parts),
}

/// How `cmd` goes: an `MGET` whole when its keys fall in at most `most` slots,
/// otherwise as [`split`] splits it; any other command of the list whole when its keys
/// fall in one slot, otherwise a part a slot; any other command whole.
pub(super) fn plan(cmd: &redis::Cmd, most: u16) -> Plan {
    let Some((kind, rest)) = parse(cmd) else {
        return Plan::Whole { slots: 1 };
    };
    if kind.combine == Combine::Arrays {
        let keys = &rest[..rest.len().saturating_sub(kind.trailing)];
        let slots: HashSet<Slot> = keys.iter().step_by(kind.step).map(Slot::for_key).collect();
        // At most 16,384 slots.
        let slots = u16::try_from(slots.len()).unwrap_or(u16::MAX);
        if slots <= most {
            return Plan::Whole {
                slots: slots.max(1),
            };
        }
    }
    split_parsed(kind, &rest, most).map_or(Plan::Whole { slots: 1 }, Plan::Parts)
}

/// `cmd` in parts: an `MGET` in runs of its keys over at most `most` slots each, any
/// other command of the list in parts of one slot each (keys of one slot share a part
/// wherever they sit). `None` when its keys fall in one slot (or it is not a command
/// the cluster client splits by slot), and it goes as it is.
pub(super) fn split(cmd: &redis::Cmd, most: u16) -> Option<Parts> {
    let (kind, rest) = parse(cmd)?;
    split_parsed(kind, &rest, most)
}

/// [`split`] of a command already parsed: its kind and its arguments after the name.
fn split_parsed(kind: &MultiSlot, rest: &[&[u8]], most: u16) -> Option<Parts> {
    let (keyed, trailing) = rest.split_at(rest.len().saturating_sub(kind.trailing));
    let most = match kind.combine {
        Combine::Arrays => usize::from(most.max(1)),
        Combine::Sum | Combine::AllSucceeded => 1,
    };
    let mut parts: Vec<Part<'_>> = Vec::new();
    // The part of each slot seen.
    let mut part_of: HashMap<Slot, usize> = HashMap::new();
    for (place, group) in keyed.chunks(kind.step).enumerate() {
        let slot = Slot::for_key(group[0]);
        let part = match most {
            // One slot a part: the part of that slot, wherever it began.
            1 => part_of.get(&slot).copied(),
            // Runs: the last part, while it has room for the slot.
            _ => parts.len().checked_sub(1).filter(|&last| {
                let slots = &parts[last].slots;
                slots.contains(&slot) || slots.len() < most
            }),
        };
        let part = part.unwrap_or_else(|| {
            parts.push(Part::default());
            parts.len() - 1
        });
        part_of.insert(slot, part);
        parts[part].groups.push(group);
        parts[part].slots.insert(slot);
        parts[part].places.push(place);
    }
    if part_of.len() < 2 {
        return None;
    }
    let mut places = Vec::with_capacity(parts.len());
    let commands = parts
        .into_iter()
        .map(|part| {
            let mut cmd = redis::cmd(kind.name);
            for arg in part.groups.into_iter().flatten().chain(trailing) {
                cmd.arg(*arg);
            }
            places.push(part.places);
            // At most 16,384 slots.
            (cmd, u16::try_from(part.slots.len()).unwrap_or(u16::MAX))
        })
        .collect();
    Some(Parts {
        commands,
        places,
        combine: kind.combine,
    })
}

/// One part being filled: its key groups (a key and the values after it), the slots
/// they fall in, and their places in the command.
#[derive(Default)]
struct Part<'a> {
    groups: Vec<&'a [&'a [u8]]>,
    slots: HashSet<Slot>,
    places: Vec<usize>,
}

impl Parts {
    /// The parts, each with the slots it reaches.
    pub(super) fn commands(&self) -> &[(redis::Cmd, u16)] {
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

    /// Checks that `parts` hold every key of `keys` once, each at its place, and
    /// that each part reaches as many slots as it says, at most `most`.
    fn every_key_once(parts: &Parts, keys: &[String], most: usize) {
        let mut seen = vec![false; keys.len()];
        for ((part, slots), places) in parts.commands().iter().zip(&parts.places) {
            let reached: HashSet<Slot> = self::slots(part, 1).into_iter().collect();
            assert_eq!(reached.len(), usize::from(*slots));
            assert!(reached.len() <= most, "{} slots in a part", reached.len());
            for (key, &place) in args(part)[1..].iter().zip(places) {
                assert_eq!(key, keys[place].as_bytes(), "each key at its place");
                assert!(!seen[place]);
                seen[place] = true;
            }
        }
        assert!(seen.iter().all(|&s| s), "every key");
    }

    #[test]
    fn a_write_or_a_count_goes_in_parts_of_one_slot_and_an_mget_in_runs() {
        let keys = keys(100);
        for name in ["DEL", "UNLINK", "EXISTS", "TOUCH"] {
            let parts = split(redis::cmd(name).arg(&keys), 16).expect("many slots");
            every_key_once(&parts, &keys, 1);
            assert_eq!(args(&parts.commands()[0].0)[0], name.as_bytes());
        }
        let parts = split(redis::cmd("MGET").arg(&keys), 16).expect("many slots");
        assert_eq!(parts.combine, Combine::Arrays);
        every_key_once(&parts, &keys, 16);
        assert!(
            parts.commands().len() >= 100 / 16,
            "{}",
            parts.commands().len()
        );
        for (part, places) in parts.commands().iter().map(|(p, _)| p).zip(&parts.places) {
            assert!(
                places.windows(2).all(|w| w[1] == w[0] + 1),
                "runs: {part:?}"
            );
        }
        let one_slot_parts = split(redis::cmd("MGET").arg(&keys), 1).expect("many slots");
        every_key_once(&one_slot_parts, &keys, 1);
        // An MGET within the bound is one chunk (the client splits it, and fails loudly
        // on a node left out); keys of one slot, and other commands, go as they are.
        let few = split(redis::cmd("MGET").arg(&keys[..5]), 16).expect("5 slots");
        assert_eq!(few.commands().len(), 1);
        assert_eq!(few.commands()[0].1, 5);
        let tagged: Vec<String> = (0..100).map(|i| format!("{{t}}{i}")).collect();
        assert!(split(redis::cmd("DEL").arg(&tagged), 16).is_none());
        assert!(split(redis::cmd("MGET").arg(&tagged), 1).is_none());
        assert!(split(redis::cmd("GET").arg("a"), 1).is_none());
        assert!(split(&redis::cmd("MGET"), 1).is_none());
    }

    #[test]
    fn keys_of_one_slot_share_a_part_wherever_they_sit() {
        let keys: Vec<String> = ["{a}1", "{b}1", "{a}2", "{b}2", "{c}"]
            .map(str::to_owned)
            .to_vec();
        let parts = split(redis::cmd("DEL").arg(&keys), 16).expect("three slots");
        assert_eq!(parts.places, [vec![0, 2], vec![1, 3], vec![4]]);
        let mget = split(redis::cmd("MGET").arg(&keys), 1).expect("three slots");
        assert_eq!(
            mget.places, parts.places,
            "one slot a part: grouped the same"
        );
        let runs = split(redis::cmd("MGET").arg(&keys), 2).expect("three slots");
        assert_eq!(
            runs.places,
            [vec![0, 1, 2, 3], vec![4]],
            "runs of two slots"
        );
        let answers = vec![
            Value::Array(vec![Value::Int(0), Value::Int(2)]),
            Value::Array(vec![Value::Int(1), Value::Nil]),
            Value::Array(vec![Value::Int(4)]),
        ];
        assert_eq!(
            mget.answer(answers),
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
        let parts = split(redis::cmd("MSET").arg(&pairs), 16).expect("parts");
        assert_eq!(parts.combine, Combine::AllSucceeded);
        for (part, slots) in parts.commands() {
            let args = args(part);
            assert_eq!(args.len() % 2, 1, "name, then pairs");
            for pair in args[1..].chunks(2) {
                assert_eq!([b"v", pair[0].as_slice()].concat(), pair[1]);
            }
            assert_eq!(*slots, 1);
            let slots = self::slots(part, 2);
            assert!(slots.iter().all(|&slot| slot == slots[0]));
        }
        let json = redis::cmd("JSON.MGET").arg(&keys).arg("$.x").clone();
        let parts = split(&json, 1).expect("parts");
        assert!(parts.commands().len() > 1);
        for (part, _) in parts.commands() {
            assert_eq!(args(part).last().map(Vec::as_slice), Some(&b"$.x"[..]));
        }
        let mut cursor = redis::cmd("MGET");
        cursor.arg(&keys).cursor_arg(0);
        assert!(split(&cursor, 1).is_none(), "a cursor goes as it is");
    }

    #[test]
    fn counts_add_up_and_a_short_or_odd_answer_is_an_error() {
        let keys = keys(3);
        let parts = |name: &str| split(redis::cmd(name).arg(&keys), 1).expect("3 slots");
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
