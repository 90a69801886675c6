//! Property tests of the mesh's covering plan and of the cause correlation, over random
//! clusters (sizes up to thousands, roles, subnets, labels, CNIs, extra ports, phases)
//! drawn from a seeded generator: a failing case prints its seed, and
//! `TARMAC_PROPERTY_SEED=<seed>` replays just that case.

mod causes;
mod cluster;
mod plan_guarantees;
