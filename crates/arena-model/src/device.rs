//! Which device a model runs on, as a person names it on the command line or in the config:
//! `cpu`, `cuda` (the first GPU), `cuda:N`, or `auto` (the first GPU when this binary was built
//! with the `cuda` feature and one is present, else the CPU). Every command that loads a model
//! parses its `--device` here, and the validator hands the same text to its eval workers.

use std::fmt;
use std::str::FromStr;

use candle_core::Device;

/// A device named by the user, not yet opened (opening a GPU creates a CUDA context, which the
/// validator's service process must not do: only its workers load models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// The GPU 0 when there is one (and this is a `cuda` build), else the CPU.
    Auto,
    /// The CPU.
    Cpu,
    /// The CUDA GPU with this ordinal.
    Cuda(usize),
}

/// Why a device cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The text names no device.
    #[error("device {0:?} is not one of cpu, cuda, cuda:N (N a GPU number), auto")]
    Syntax(String),
    /// A GPU was asked of a binary built without GPU support.
    #[error(
        "device {spec} needs a GPU build: this arena was built without the `cuda` feature \
         (build one with ./scripts/build-cuda, or use --device cpu)"
    )]
    NoCudaSupport {
        /// The device asked for, as written back (`cuda:1`).
        spec: DeviceSpec,
    },
    /// The GPU could not be opened (no driver, no such ordinal, out of memory).
    #[error("opening device {spec}: {}", first_line(cause))]
    Open {
        /// The device asked for.
        spec: DeviceSpec,
        /// candle's (CUDA's) error; not an error `source`, so an error chain printed cause by
        /// cause shows its first line only, not the backtrace candle appends.
        cause: candle_core::Error,
    },
}

impl DeviceSpec {
    /// Whether this names a GPU explicitly (`cuda`, `cuda:N`).
    pub fn is_cuda(self) -> bool {
        matches!(self, DeviceSpec::Cuda(_))
    }

    /// Refuses a GPU when this binary has no CUDA support, without opening anything, so a
    /// validator can reject `--devices cuda:0` at start rather than fail every model.
    pub fn check_supported(self) -> Result<Self, DeviceError> {
        if self.is_cuda() && !cfg!(feature = "cuda") {
            return Err(DeviceError::NoCudaSupport { spec: self });
        }
        Ok(self)
    }

    /// Opens the device (for a GPU: creates its CUDA context).
    pub fn open(self) -> Result<Device, DeviceError> {
        let open = |device: candle_core::Result<Device>| {
            device.map_err(|cause| DeviceError::Open { spec: self, cause })
        };
        match self.check_supported()? {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            // candle's `cuda_if_available` only asks whether CUDA was compiled in, so a CUDA
            // build on a machine without a GPU (or driver) would fail: fall back here instead.
            DeviceSpec::Auto if cfg!(feature = "cuda") => match Device::new_cuda(0) {
                Ok(gpu) => Ok(gpu),
                Err(e) => {
                    tracing::info!(error = %first_line(&e), "no usable GPU 0; using the CPU");
                    Ok(Device::Cpu)
                }
            },
            DeviceSpec::Auto => Ok(Device::Cpu),
            DeviceSpec::Cuda(ordinal) => open(Device::new_cuda(ordinal)),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = DeviceError;

    /// Parses `cpu`, `cuda`, `cuda:N` or `auto` (case-insensitive, surrounding spaces ignored).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        match lower.as_str() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "auto" => Ok(DeviceSpec::Auto),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            _ => lower
                .strip_prefix("cuda:")
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| DeviceError::Syntax(text.to_string())),
        }
    }
}

impl fmt::Display for DeviceSpec {
    /// The canonical spelling, which [`FromStr`] reads back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Auto => f.write_str("auto"),
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// The first line of a candle error (its display may append a backtrace).
fn first_line(e: &candle_core::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// Parses and opens a device in one go (`--device` of the commands that load a model).
pub fn parse_device(text: &str) -> Result<Device, DeviceError> {
    text.parse::<DeviceSpec>()?.open()
}

/// Parses a comma-separated device list (`cuda:0,cuda:1`), each checked against this build;
/// empty entries are refused, repeats are kept (two workers may share one GPU).
pub fn parse_device_list(text: &str) -> Result<Vec<DeviceSpec>, DeviceError> {
    text.split(',')
        .map(|item| item.parse::<DeviceSpec>()?.check_supported())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_and_prints_back() {
        for (text, spec) in [
            ("cpu", DeviceSpec::Cpu),
            (" CPU ", DeviceSpec::Cpu),
            ("auto", DeviceSpec::Auto),
            ("cuda", DeviceSpec::Cuda(0)),
            ("cuda:0", DeviceSpec::Cuda(0)),
            ("cuda:7", DeviceSpec::Cuda(7)),
            ("CUDA:12", DeviceSpec::Cuda(12)),
        ] {
            assert_eq!(text.parse::<DeviceSpec>().unwrap(), spec, "{text:?}");
            assert_eq!(spec.to_string().parse::<DeviceSpec>().unwrap(), spec);
        }
        assert_eq!(DeviceSpec::Cuda(3).to_string(), "cuda:3");
    }

    #[test]
    fn anything_else_is_a_syntax_error_naming_the_text() {
        for text in [
            "", "cuda:", "cuda:-1", "cuda:x", "cuda:1:2", "metal", "gpu", "cuda0", "cuda:+1",
        ] {
            let err = text.parse::<DeviceSpec>().unwrap_err();
            assert!(matches!(err, DeviceError::Syntax(_)), "{text:?}: {err}");
            assert!(err.to_string().contains(&format!("{text:?}")), "{err}");
        }
        assert!(parse_device_list("cpu,,cpu").is_err());
        assert!(parse_device_list("cpu, cpu").unwrap().len() == 2);
    }

    #[test]
    fn the_cpu_opens_and_auto_falls_back_to_it_without_a_gpu() {
        assert!(parse_device("cpu").unwrap().is_cpu());
        // Without a GPU (none on the machines the tests run on) `auto` is the CPU, in a CUDA
        // build too.
        if !cfg!(feature = "cuda") || Device::new_cuda(0).is_err() {
            assert!(parse_device("auto").unwrap().is_cpu());
        }
    }

    #[test]
    fn a_gpu_without_the_cuda_feature_is_a_clear_error() {
        if cfg!(feature = "cuda") {
            return;
        }
        let err = parse_device("cuda:1").unwrap_err();
        assert!(matches!(
            err,
            DeviceError::NoCudaSupport {
                spec: DeviceSpec::Cuda(1)
            }
        ));
        let text = err.to_string();
        assert!(
            text.contains("cuda:1") && text.contains("`cuda` feature"),
            "{text}"
        );
        assert!(parse_device_list("cpu,cuda:0").is_err());
    }
}
