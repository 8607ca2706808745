//! Vulkan devices a megakernel can run on: `vyre_device_count`, `vyre_device_get_info`.
#![allow(non_camel_case_types)] // C names: the header and Rust say the same thing.

use super::megakernel::check_struct_size;
use super::{guard, output};
use crate::backend::vulkan::device::{self, DeviceInfo};
use crate::error::{vyre_status, Error, ErrorKind, Result};
use std::ffi::c_char;

/// Device type: none of the others.
pub const VYRE_DEVICE_TYPE_OTHER: u32 = 0;
/// Device type: a GPU sharing memory with the host.
pub const VYRE_DEVICE_TYPE_INTEGRATED_GPU: u32 = 1;
/// Device type: a GPU with its own memory.
pub const VYRE_DEVICE_TYPE_DISCRETE_GPU: u32 = 2;
/// Device type: a virtualised GPU.
pub const VYRE_DEVICE_TYPE_VIRTUAL_GPU: u32 = 3;
/// Device type: a CPU implementation such as lavapipe.
pub const VYRE_DEVICE_TYPE_CPU: u32 = 4;
/// Bytes of `vyre_device_info::name`, terminating NUL included.
pub const VYRE_DEVICE_NAME_SIZE: u32 = 256;

/// A Vulkan device as `vyre_device_get_info` describes it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vyre_device_info {
    /// Set to `sizeof(vyre_device_info)` before the call.
    pub struct_size: u32,
    /// The index to pass as `vyre_megakernel_options::device_index`.
    pub index: u32,
    /// PCI vendor id (0x10DE NVIDIA, 0x10005 Mesa for lavapipe).
    pub vendor_id: u32,
    pub device_id: u32,
    /// The driver's version, encoded as the driver chooses.
    pub driver_version: u32,
    /// `VYRE_DEVICE_TYPE_*`.
    pub device_type: u32,
    /// 1 if DEVICE_LOCAL | HOST_VISIBLE | HOST_COHERENT memory (the BAR)
    /// exists: the megakernel then keeps everything the GPU polls there.
    pub has_bar_memory: u32,
    /// Workgroups a bare megakernel launches on it by default (an engine
    /// launches 16 times as many on a GPU: docs/ENGINE.md).
    pub workgroups: u32,
    /// Lanes per workgroup.
    pub workgroup_size: u32,
    /// 1 if a megakernel created with default options would use it.
    pub is_default: u32,
    /// NUL-terminated device name.
    pub name: [c_char; 256],
}

static_assertions::const_assert_eq!(VYRE_DEVICE_NAME_SIZE, 256);
static_assertions::const_assert_eq!(std::mem::size_of::<vyre_device_info>(), 296);
static_assertions::const_assert_eq!(std::mem::offset_of!(vyre_device_info, name), 40);

/// Every usable device, and the index of the default one.
fn devices() -> Result<(Vec<DeviceInfo>, Option<usize>)> {
    let instance = match device::Instance::new() {
        Ok(instance) => instance,
        // No loader or driver: no devices, which is an answer, not an error.
        Err(e) if e.kind == ErrorKind::Unsupported => return Ok((Vec::new(), None)),
        Err(e) => return Err(e),
    };
    let devices = instance.devices()?;
    let env = std::env::var("VYRE_DEVICE").ok();
    let default = device::choose(&devices, None, env.as_deref()).ok();
    Ok((devices.into_iter().map(|(_, info)| info).collect(), default))
}

/// The number of Vulkan devices with a compute queue (0 where no Vulkan
/// loader or driver is installed). Indices `0..count` are valid for
/// `vyre_device_get_info`.
///
/// # Safety
/// `out_count` must be NULL (an error) or point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn vyre_device_count(out_count: *mut u32) -> vyre_status {
    guard("vyre_device_count", || {
        let out = output(out_count, "out_count")?;
        out.write(devices()?.0.len() as u32);
        Ok(())
    })
}

/// Describe device `index` (0-based, below `vyre_device_count`). Set
/// `out->struct_size` to `sizeof(vyre_device_info)` first.
///
/// # Safety
/// `out` must be NULL (an error) or point to `out->struct_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn vyre_device_get_info(index: u32, out: *mut vyre_device_info) -> vyre_status {
    guard("vyre_device_get_info", || {
        // SAFETY: caller contract; only the leading struct_size is read.
        let declared = unsafe { super::input(out.cast_const().cast::<u32>(), "out") }?;
        check_struct_size::<vyre_device_info>(*declared, "vyre_device_info")?;
        let out = output(out, "out")?;
        let (devices, default) = devices()?;
        let info = devices.get(index as usize).ok_or_else(|| {
            Error::out_of_range(format!("device {index} does not exist; vyre_device_count reports {}", devices.len()))
        })?;
        let mut name = [0 as c_char; 256];
        for (dst, &byte) in name.iter_mut().zip(info.name.as_bytes().iter().take(255)) {
            *dst = byte as c_char;
        }
        out.write(vyre_device_info {
            struct_size: std::mem::size_of::<vyre_device_info>() as u32,
            index: info.index,
            vendor_id: info.vendor_id,
            device_id: info.device_id,
            driver_version: info.driver_version,
            device_type: u32::try_from(info.device_type.as_raw()).unwrap_or(VYRE_DEVICE_TYPE_OTHER),
            has_bar_memory: u32::from(info.has_bar_memory),
            workgroups: info.default_workgroups(false),
            workgroup_size: info.workgroup_size(),
            is_default: u32::from(default == Some(index as usize)),
            name,
        });
        Ok(())
    })
}
