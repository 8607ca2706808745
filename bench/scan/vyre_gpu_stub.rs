//! Stand-in for scan/vyre_gpu.rs while vyre::engine (src/engine) does not
//! exist: the benchmark runs its CPU engines and says vyre was not measured.

use super::report::Row;
use super::{Config, Inputs};

/// What the GPU part measured.
pub struct GpuReport {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    pub device: String,
    /// Host → GPU copy bandwidth measured in this run, GB/s.
    pub h2d_gbps: Option<f64>,
}

pub fn run(_config: &Config, _inputs: &Inputs) -> Result<GpuReport, String> {
    Err("vyre::engine is not in this build yet (bench/scan.rs includes scan/vyre_gpu_stub.rs)".into())
}
