//! [`NodeLine`]: one line of `CLUSTER NODES`, read once for the topology and for the
//! primaries a command must run on.

/// One node, as a line of `CLUSTER NODES` describes it:
/// `id ip:port@cport[,hostname] flags primary-id ping pong epoch link slot...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeLine<'a> {
    /// `host:port`.
    pub(crate) address: &'a str,
    /// Flagged `master`.
    pub(crate) primary: bool,
    /// Flagged `fail` or `fail?`.
    pub(crate) failed: bool,
    /// Its link is `connected`.
    pub(crate) connected: bool,
    /// A replica's primary (its node id).
    pub(crate) primary_id: Option<&'a str>,
    /// Slots it serves (migration entries, `[slot->-id]`, not counted).
    pub(crate) slots: u32,
    /// It lists any slot entry, migrating ones included.
    pub(crate) lists_slots: bool,
}

/// Every well-formed line of `CLUSTER NODES` output.
pub(crate) fn parse(text: &str) -> impl Iterator<Item = NodeLine<'_>> {
    text.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (flags, link) = (fields.get(2)?, fields.get(7)?);
        let flag = |name: &str| flags.split(',').any(|f| f == name);
        let primary = flag("master");
        let slot_entries = &fields[8..];
        Some(NodeLine {
            address: fields.get(1)?.split('@').next()?,
            primary,
            failed: flag("fail") || flag("fail?"),
            connected: *link == "connected",
            primary_id: (!primary).then(|| fields.get(3).copied()).flatten(),
            slots: slot_entries
                .iter()
                .filter(|range| !range.starts_with('['))
                .map(|range| match range.split_once('-') {
                    Some((from, to)) => {
                        let (from, to): (u32, u32) =
                            (from.parse().unwrap_or(0), to.parse().unwrap_or(0));
                        to.saturating_sub(from) + 1
                    }
                    None => 1,
                })
                .sum(),
            lists_slots: !slot_entries.is_empty(),
        })
    })
}
