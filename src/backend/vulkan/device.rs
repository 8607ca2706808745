//! Vulkan instance, device discovery and choice.
//!
//! The first real GPU wins; without one, lavapipe (Mesa's CPU Vulkan) is the
//! embedded default. `VYRE_DEVICE` (an index or a name substring) or the
//! options' device index override the choice.

use crate::error::{Error, ErrorKind, Result};
use ash::vk;
use std::ffi::CStr;

/// What a C user can learn about a Vulkan device before choosing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub index: u32,
    pub name: String,
    pub vendor_id: u32,
    pub device_id: u32,
    pub driver_version: u32,
    pub device_type: vk::PhysicalDeviceType,
    /// Whether DEVICE_LOCAL | HOST_VISIBLE | HOST_COHERENT memory (the BAR)
    /// exists: what the GPU polls must live there on a discrete GPU.
    pub has_bar_memory: bool,
    /// Streaming multiprocessors, where VK_NV_shader_sm_builtins says.
    pub sm_count: Option<u32>,
    /// Whether shaders can read a device-wide clock (VK_KHR_shader_clock's
    /// shaderDeviceClock): idle lanes then back off on it.
    pub device_clock: bool,
    pub subgroup_size: u32,
    pub queue_family: Option<u32>,
    /// Largest storage buffer a shader may bind, in bytes.
    pub max_storage_buffer_range: u64,
}

impl DeviceInfo {
    pub fn is_cpu(&self) -> bool {
        self.device_type == vk::PhysicalDeviceType::CPU
    }

    /// Lanes per workgroup the megakernel uses: on a GPU one subgroup, at
    /// least 32 lanes; on a CPU device one lane. Lavapipe (Mesa 22.3)
    /// executes a workgroup's lanes as SIMD vectors under execution masks,
    /// and two failures were measured here with more than one lane per
    /// workgroup, neither with one: lanes cut off mid-slot (slots stuck
    /// CLAIMED) when a workgroup spanned several SIMD chunks, and, with one
    /// chunk, lanes that had no slot repeating other lanes' atomics (extra
    /// ATOMIC_ADDs in the conformance suite). Parallelism on a CPU comes
    /// from workgroups, which lavapipe spreads over its threads.
    pub fn workgroup_size(&self) -> u32 {
        if self.is_cpu() {
            return 1;
        }
        self.subgroup_size.clamp(32, 64)
    }

    /// Workgroups the megakernel launches by default: one per SM where the
    /// count is known (all co-resident), one per host core (at most 4) on a
    /// CPU device, and a conservative 16 elsewhere; on a GPU, `scanning`
    /// multiplies that by `SCAN_WORKGROUPS_PER_SM`.
    pub fn default_workgroups(&self, scanning: bool) -> u32 {
        let per_sm = if scanning && !self.is_cpu() { SCAN_WORKGROUPS_PER_SM } else { 1 };
        per_sm
            * match self.sm_count {
                Some(sms) if sms > 0 => sms,
                // Lavapipe runs one workgroup per core at a time: more would wait
                // for a core instead of polling.
                _ if self.is_cpu() => std::thread::available_parallelism().map_or(2, |n| n.get() as u32).clamp(1, 4),
                _ => 16,
            }
    }
}

/// Workgroups per SM of an engine's kernel on a GPU. A lane walking a DFA
/// waits on a dependent load at every byte, so throughput comes from many
/// warps per SM overlapping their waits: on an H200, 4 x 64 MiB scanned in
/// 25 ms with 16 per SM against 43-48 ms with one (bench/RESULTS.md). 16
/// warps of 32 lanes stay co-resident on any SM that has them.
const SCAN_WORKGROUPS_PER_SM: u32 = 16;

/// Taken shared around every queue submission and exclusively around
/// creating and destroying instances and devices. The NVIDIA driver
/// (580.159, through its EGL entry point) deadlocked in one process when one
/// engine's vkDestroyDevice ran while another engine's slice thread was in
/// vkQueueSubmit: both waited inside the driver for ever (seen on an H200
/// with 16 test threads creating and dropping engines; docs/VULKAN.md).
pub(crate) static DRIVER_LIFECYCLE: parking_lot::RwLock<()> = parking_lot::RwLock::new(());

/// A loaded Vulkan instance.
pub struct Instance {
    pub entry: ash::Entry,
    pub instance: ash::Instance,
}

impl Instance {
    pub fn new() -> Result<Instance> {
        // SAFETY: loading libvulkan.so.1 runs its initialisers; the loader is
        // a well-behaved system library and no Vulkan object exists yet.
        let entry = unsafe { ash::Entry::load() }.map_err(|e| {
            Error::new(
                ErrorKind::Unsupported,
                format!(
                    "no Vulkan loader ({e}); install libvulkan1 and a driver (mesa-vulkan-drivers \
                     for lavapipe), or use VYRE_BACKEND_REFERENCE"
                ),
            )
        })?;
        let app = vk::ApplicationInfo::default().application_name(c"libvyre").api_version(vk::API_VERSION_1_1);
        let create = vk::InstanceCreateInfo::default().application_info(&app);
        let _exclusive = DRIVER_LIFECYCLE.write();
        // SAFETY: the create info and what it points to outlive the call.
        let instance = unsafe { entry.create_instance(&create, None) }.map_err(|e| {
            Error::new(ErrorKind::Unsupported, format!("vkCreateInstance failed ({e}); is a Vulkan driver installed?"))
        })?;
        Ok(Instance { entry, instance })
    }

    pub fn physical_devices(&self) -> Result<Vec<vk::PhysicalDevice>> {
        // SAFETY: the instance is alive.
        unsafe { self.instance.enumerate_physical_devices() }
            .map_err(|e| Error::new(ErrorKind::Unsupported, format!("vkEnumeratePhysicalDevices failed ({e})")))
    }

    fn describe(&self, index: u32, device: vk::PhysicalDevice) -> DeviceInfo {
        let has_sm_builtins = self.has_extension(device, c"VK_NV_shader_sm_builtins");
        let device_clock = self.has_extension(device, ash::khr::shader_clock::NAME) && {
            let mut clock = vk::PhysicalDeviceShaderClockFeaturesKHR::default();
            let mut features = vk::PhysicalDeviceFeatures2::default().push_next(&mut clock);
            // SAFETY: device belongs to this instance; the chain lives until the call returns.
            unsafe { self.instance.get_physical_device_features2(device, &mut features) };
            clock.shader_device_clock == vk::TRUE
        };
        let mut subgroup = vk::PhysicalDeviceSubgroupProperties::default();
        let mut sm = vk::PhysicalDeviceShaderSMBuiltinsPropertiesNV::default();
        let mut props = vk::PhysicalDeviceProperties2::default().push_next(&mut subgroup);
        if has_sm_builtins {
            props = props.push_next(&mut sm);
        }
        // SAFETY: device belongs to this instance; the chained structs live
        // until the call returns.
        unsafe { self.instance.get_physical_device_properties2(device, &mut props) };
        let base = props.properties;
        // SAFETY: as above.
        let memory = unsafe { self.instance.get_physical_device_memory_properties(device) };
        let bar = vk::MemoryPropertyFlags::DEVICE_LOCAL
            | vk::MemoryPropertyFlags::HOST_VISIBLE
            | vk::MemoryPropertyFlags::HOST_COHERENT;
        // SAFETY: as above.
        let families = unsafe { self.instance.get_physical_device_queue_family_properties(device) };
        let queue_family =
            families.iter().position(|f| f.queue_flags.contains(vk::QueueFlags::COMPUTE)).map(|i| i as u32);
        DeviceInfo {
            max_storage_buffer_range: u64::from(base.limits.max_storage_buffer_range),
            index,
            name: base
                .device_name_as_c_str()
                .map_or_else(|_| "unnamed device".to_string(), |n| n.to_string_lossy().into_owned()),
            vendor_id: base.vendor_id,
            device_id: base.device_id,
            driver_version: base.driver_version,
            device_type: base.device_type,
            has_bar_memory: memory.memory_types_as_slice().iter().any(|t| t.property_flags.contains(bar)),
            sm_count: (has_sm_builtins && sm.shader_sm_count > 0).then_some(sm.shader_sm_count),
            device_clock,
            subgroup_size: subgroup.subgroup_size.max(1),
            queue_family,
        }
    }

    pub fn has_extension(&self, device: vk::PhysicalDevice, name: &CStr) -> bool {
        // SAFETY: device belongs to this instance.
        unsafe { self.instance.enumerate_device_extension_properties(device) }
            .map(|exts| exts.iter().any(|e| e.extension_name_as_c_str() == Ok(name)))
            .unwrap_or(false)
    }

    /// Every usable device (one with a compute queue), in Vulkan's order,
    /// numbered from 0 in that list (the index C users and `VYRE_DEVICE` use).
    pub fn devices(&self) -> Result<Vec<(vk::PhysicalDevice, DeviceInfo)>> {
        let mut usable: Vec<_> = self
            .physical_devices()?
            .into_iter()
            .map(|d| (d, self.describe(0, d)))
            .filter(|(_, info)| info.queue_family.is_some())
            .collect();
        for (index, (_, info)) in usable.iter_mut().enumerate() {
            info.index = index as u32;
        }
        Ok(usable)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _exclusive = DRIVER_LIFECYCLE.write();
        // SAFETY: every object created from the instance is destroyed first
        // (the device owner drops before its Instance).
        unsafe { self.instance.destroy_instance(None) };
    }
}

/// The device to use: `requested` (an index from the options), else
/// `VYRE_DEVICE` (index or case-insensitive name substring), else the first
/// GPU, else the first CPU device (lavapipe).
pub fn choose(
    devices: &[(vk::PhysicalDevice, DeviceInfo)],
    requested: Option<u32>,
    env: Option<&str>,
) -> Result<usize> {
    let names = || devices.iter().map(|(_, i)| format!("{}: {}", i.index, i.name)).collect::<Vec<_>>().join(", ");
    if devices.is_empty() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "no Vulkan device with a compute queue; install a driver (mesa-vulkan-drivers gives \
             lavapipe) or use VYRE_BACKEND_REFERENCE",
        ));
    }
    let by_index = |index: u32, origin: &str| {
        devices.iter().position(|(_, i)| i.index == index).ok_or_else(|| {
            Error::out_of_range(format!("{origin} asks for device {index}, but the devices are [{}]", names()))
        })
    };
    if let Some(index) = requested {
        return by_index(index, "device_index in the options");
    }
    if let Some(wanted) = env.map(str::trim).filter(|w| !w.is_empty()) {
        if let Ok(index) = wanted.parse::<u32>() {
            return by_index(index, "VYRE_DEVICE");
        }
        let needle = wanted.to_lowercase();
        return devices.iter().position(|(_, i)| i.name.to_lowercase().contains(&needle)).ok_or_else(|| {
            Error::out_of_range(format!("VYRE_DEVICE={wanted} matches no device; the devices are [{}]", names()))
        });
    }
    Ok(devices.iter().position(|(_, i)| !i.is_cpu()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(index: u32, name: &str, device_type: vk::PhysicalDeviceType) -> (vk::PhysicalDevice, DeviceInfo) {
        (
            vk::PhysicalDevice::null(),
            DeviceInfo {
                index,
                name: name.into(),
                vendor_id: 0,
                device_id: 0,
                driver_version: 0,
                device_type,
                has_bar_memory: false,
                sm_count: None,
                device_clock: false,
                subgroup_size: 32,
                queue_family: Some(0),
                max_storage_buffer_range: u64::from(u32::MAX),
            },
        )
    }

    #[test]
    fn the_first_gpu_wins_then_env_and_options_override() {
        let devices = [
            info(0, "llvmpipe (LLVM 15)", vk::PhysicalDeviceType::CPU),
            info(1, "NVIDIA H100 80GB HBM3", vk::PhysicalDeviceType::DISCRETE_GPU),
        ];
        assert_eq!(choose(&devices, None, None).unwrap(), 1);
        assert_eq!(choose(&devices[..1], None, None).unwrap(), 0, "lavapipe without a GPU");
        assert_eq!(choose(&devices, None, Some("llvmpipe")).unwrap(), 0);
        assert_eq!(choose(&devices, None, Some("0")).unwrap(), 0);
        assert_eq!(choose(&devices, Some(1), Some("0")).unwrap(), 1, "options beat the environment");
        assert_eq!(choose(&devices, None, Some("")).unwrap(), 1);
        let err = choose(&devices, None, Some("radeon")).unwrap_err();
        assert!(err.message.contains("0: llvmpipe"), "{}", err.message);
        assert_eq!(choose(&devices, Some(7), None).unwrap_err().kind, ErrorKind::OutOfRange);
        assert_eq!(choose(&[], None, None).unwrap_err().kind, ErrorKind::Unsupported);
    }
}
