//! The sFlow collector state and the sFlow-RT compatible REST API of `detunnel serve`.
