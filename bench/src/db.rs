//! The database server's own counters.

use e2e::Admin;

/// Server counters of what clients asked for: each is at least one round trip.
/// (`Connections` also counts the handshake, 2 round trips; TLS adds 1 or 2.)
pub(crate) const SERVER_COMMANDS: [&str; 4] = [
    "Connections",
    "Com_select",
    "Com_stmt_prepare",
    "Com_stmt_execute",
];

pub(crate) fn server_commands(admin: &mut Admin) -> Vec<u64> {
    SERVER_COMMANDS
        .iter()
        .map(|name| admin.status(name))
        .collect()
}
