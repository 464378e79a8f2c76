//! brain's integration tests: one binary, the real `brain` executable driven in temp dirs, real
//! stores (SQLite always, Postgres when `BRAIN_TEST_DATABASE_URL` is set).

mod api;
mod browser;
mod cli;
mod cluster;
mod config;
mod connectors;
mod console;
mod drill;
mod engine;
mod engine_property;
mod firestore;
mod intake;
mod lint;
mod ops_note;
mod policy;
mod recovery;
mod review;
mod scorecard;
mod serve;
mod snapshot;
mod store;
mod stripe;
mod support;
mod swarms;
