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
                        to.saturating_sub(from).saturating_add(1)
                    }
                    None => 1,
                })
                // Saturating: a garbled line must not panic the pool.
                .fold(0, u32::saturating_add),
            lists_slots: !slot_entries.is_empty(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_node_line_and_survives_a_garbled_one() {
        let text = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [5461->-abc]
x 127.0.0.1:1 master - 0 0 1 connected 0-4294967295 7 0-4294967295
too short";
        let nodes: Vec<NodeLine<'_>> = parse(text).collect();
        assert_eq!(nodes.len(), 3, "the short line is skipped");
        assert_eq!(nodes[0].address, "127.0.0.1:30004");
        assert_eq!(
            nodes[0].primary_id,
            Some("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca")
        );
        assert!(!nodes[0].primary && !nodes[0].lists_slots);
        assert!(nodes[1].primary && nodes[1].connected);
        assert_eq!(nodes[1].slots, 5461, "the migrating entry is not counted");
        assert_eq!(nodes[2].slots, u32::MAX, "saturates, no overflow");
    }
}
