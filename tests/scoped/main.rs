//! The tests that look only at what their own thread allocated after a mark (or at objects
//! of their own kinds), so that they hold while the others run in parallel threads of this
//! process: one test binary, one link of the crate, instead of one per file. Tests that
//! change the whole process (a reference point, the sampler, the stack mode, process-wide
//! counters, environment variables, child processes) keep files of their own.

#[global_allocator]
static CENSUS: heapy::Census = heapy::Census::new();

mod algebra;
mod assertions;
mod census_exact;
mod closures;
mod diff;
mod graph_shapes;
mod kinds;
mod marks;
mod model;
mod profile_lines;
mod sites;
mod snapshot_files;
mod tables;
