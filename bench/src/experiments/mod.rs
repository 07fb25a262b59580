//! One module per experiment; each measures, prints a line, and returns its rows.

pub(crate) mod burst;
pub(crate) mod cold_start;
pub(crate) mod connection_cap;
pub(crate) mod idle_ping;
pub(crate) mod init;
pub(crate) mod managed_instances;
pub(crate) mod profile;
pub(crate) mod reconnect;
pub(crate) mod sizes;
