//! The Vulkan objects of one megakernel: device, queue, the three shared
//! buffers (mapped for the host's whole lifetime), the compute pipeline and
//! the command buffers that each run one slice.

use super::device::{DeviceInfo, Instance, DRIVER_LIFECYCLE};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::abi::*;
use ash::vk;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU8};

// The shader reads a claimed slot as four uvec4s: status, opcode, tenant,
// batch, then the twelve arguments.
static_assertions::const_assert!(
    VYRE_SLOT_WORDS == 16
        && VYRE_SLOT_WORD_STATUS == 0
        && VYRE_SLOT_WORD_OPCODE == 1
        && VYRE_SLOT_WORD_TENANT == 2
        && VYRE_SLOT_WORD_BATCH == 3
        && VYRE_SLOT_WORD_ARG0 == 4
        && VYRE_SLOT_MAX_ARGS == 12
);

/// The SPIR-V of shaders/megakernel.comp, compiled and validated by build.rs.
static MEGAKERNEL_SPIRV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/megakernel.spv"));
/// The same shader built with VYRE_IDLE_BACKOFF: idle lanes wait on the
/// device clock. Used on GPUs that have VK_KHR_shader_clock's device clock.
static MEGAKERNEL_BACKOFF_SPIRV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/megakernel-backoff.spv"));

/// Storage buffers bound to the kernel: control, ring, debug log, input
/// arena, rule tables, scan state (bindings 0..=5 of the shader).
pub(crate) const SHARED_BUFFERS: usize = 6;

/// Where a buffer's memory lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// DEVICE_LOCAL | HOST_VISIBLE | HOST_COHERENT: the BAR on a discrete GPU.
    Bar,
    /// HOST_VISIBLE | HOST_COHERENT system memory: the fallback where no BAR
    /// type exists (and what every type is on lavapipe).
    HostCoherent,
}

/// One storage buffer, mapped persistently.
pub struct Buffer {
    pub buffer: vk::Buffer,
    memory: vk::DeviceMemory,
    mapped: *mut AtomicU32,
    words: usize,
    pub placement: Placement,
}

impl Buffer {
    pub fn words(&self) -> &[AtomicU32] {
        // SAFETY: `mapped` points to a live HOST_COHERENT mapping of at least
        // `words` u32s (allocated and mapped in `Gpu::buffer`, unmapped only
        // in `Gpu::drop`, which outlives every borrow of `self`). The memory
        // is 4-byte aligned (mappings are aligned to minMemoryMapAlignment),
        // AtomicU32 has u32's layout, and host-coherent memory shared with the
        // device is only ever accessed through atomics on the host.
        unsafe { std::slice::from_raw_parts(self.mapped, self.words) }
    }

    /// The same memory as bytes (the input arena).
    pub fn bytes(&self) -> &[AtomicU8] {
        // SAFETY: as in `words`: a live mapping of `words * 4` bytes, and
        // AtomicU8 has u8's layout and alignment 1.
        unsafe { std::slice::from_raw_parts(self.mapped.cast::<AtomicU8>(), self.words * 4) }
    }
}

/// What each shared buffer holds: its size in words and its first words
/// (the rest starts as whatever the allocation holds; nothing reads it
/// before the host writes it).
/// `name` and `smaller` (what option makes it smaller) word the errors
/// of a buffer that does not fit.
pub struct BufferInit<'a> {
    pub words: usize,
    pub initial: &'a [u32],
    pub name: &'static str,
    pub smaller: &'static str,
}

impl<'a> BufferInit<'a> {
    pub fn filled(initial: &'a [u32], name: &'static str, smaller: &'static str) -> BufferInit<'a> {
        BufferInit { words: initial.len(), initial, name, smaller }
    }
}

/// Push constants of one slice (the shader's `Slice` block).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SliceParams {
    pub budget: u32,
    pub max_passes: u32,
    pub lane_count: u32,
    /// Empty passes before a lane backs off (backoff variant only).
    pub idle_passes: u32,
    /// Longest back-off in device clock ticks; 0 never backs off.
    pub backoff_max: u32,
    /// Empty passes after which a lane leaves the dispatch; 0 never does.
    pub idle_exit: u32,
    /// Device clock ticks a slice lasts (backoff variant only); 0: no limit.
    pub slice_ticks: u32,
}

/// For an allocation that failed: how large the heap it came from is, and,
/// for BAR memory, that a small BAR is the usual cause. (An H200 machine
/// without resizable BAR had 256 MiB of it: 4 x 256 MiB of arena or 512 MiB
/// of hit records could not be allocated.)
fn heap_note(memory: &vk::PhysicalDeviceMemoryProperties, type_index: usize, placement: Placement) -> String {
    let heap = memory.memory_types_as_slice()[type_index].heap_index as usize;
    let Some(size) = memory.memory_heaps_as_slice().get(heap).map(|h| h.size) else {
        return String::new();
    };
    let mib = size >> 20;
    match placement {
        Placement::Bar => format!(
            " (the shared buffers come from one device-local, host-visible heap of {mib} MiB; on a discrete \
             GPU that is the PCIe BAR, 256 MiB unless resizable BAR is on in the firmware or hypervisor)"
        ),
        Placement::HostCoherent => format!(" (from a host-visible heap of {mib} MiB)"),
    }
}

pub struct Gpu {
    /// Dropped only after the device; leaked with it when abandoned.
    pub instance: std::mem::ManuallyDrop<Instance>,
    pub info: DeviceInfo,
    pub physical: vk::PhysicalDevice,
    pub device: ash::Device,
    pub queue: vk::Queue,
    /// Where the staged ingest path's copies run (`staging.rs`): a dedicated
    /// transfer family's queue, else a second compute queue, else `queue`.
    pub transfer_queue: vk::Queue,
    pub transfer_family: u32,
    /// Submits to `queue` (the driver thread's slices, and staging copies
    /// when they share it) take this lock: a queue is externally synchronised.
    queue_lock: Mutex<()>,
    /// Submits to a transfer queue of its own.
    transfer_lock: Mutex<()>,
    /// `minImportedHostPointerAlignment` where VK_EXT_external_memory_host is
    /// enabled: staging memory is then the pump's own pages, imported.
    pub host_import_alignment: Option<u64>,
    pub control: Buffer,
    pub ring: Buffer,
    pub log: Buffer,
    pub arena: Buffer,
    pub rules: Buffer,
    pub scan: Buffer,
    descriptor_pool: vk::DescriptorPool,
    set_layout: vk::DescriptorSetLayout,
    layout: vk::PipelineLayout,
    pipeline: vk::Pipeline,
    descriptor_set: vk::DescriptorSet,
    command_pool: vk::CommandPool,
    pub workgroups: u32,
    pub workgroup_size: u32,
    /// Whether the pipeline is the variant whose idle lanes back off.
    pub idle_backoff: bool,
    /// Set when the device may still be executing (hung or lost): destroying
    /// objects in use is undefined, so Drop leaks them instead.
    pub abandoned: bool,
}

// SAFETY: Vulkan handles may be used from any thread as long as access to
// the queues and command pool is externally synchronised: submits take
// `queue_lock` or `transfer_lock`, the driver thread is the only user of the
// command pool, and the mapped pointers are only read through `AtomicU32`.
unsafe impl Send for Gpu {}
// SAFETY: see Send; shared access goes through atomics or immutable handles.
unsafe impl Sync for Gpu {}

pub(super) fn vk_error(what: &str) -> impl Fn(vk::Result) -> Error + '_ {
    move |e| {
        let kind = match e {
            vk::Result::ERROR_OUT_OF_HOST_MEMORY | vk::Result::ERROR_OUT_OF_DEVICE_MEMORY => ErrorKind::OutOfMemory,
            vk::Result::ERROR_DEVICE_LOST => ErrorKind::DeviceLost,
            _ => ErrorKind::Internal,
        };
        Error::new(kind, format!("{what} failed: {e}"))
    }
}

impl Gpu {
    /// Create the device and every object on `physical`, with the shared
    /// buffers (control, ring, log, arena, rules, scan state) as `buffers` says.
    pub fn new(
        instance: Instance,
        physical: vk::PhysicalDevice,
        info: DeviceInfo,
        buffers: [BufferInit; SHARED_BUFFERS],
        workgroups: u32,
    ) -> Result<Gpu> {
        let family =
            info.queue_family.ok_or_else(|| Error::new(ErrorKind::Unsupported, "device has no compute queue"))?;
        let priorities = [1.0f32; 2];
        // SAFETY: physical belongs to instance.
        let families = unsafe { instance.instance.get_physical_device_queue_family_properties(physical) };
        let (transfer_family, transfer_index) = transfer_queue(&families, family);
        let mut queue_infos = vec![vk::DeviceQueueCreateInfo::default()
            .queue_family_index(family)
            .queue_priorities(&priorities[..if transfer_family == family { transfer_index as usize + 1 } else { 1 }])];
        if transfer_family != family {
            queue_infos.push(
                vk::DeviceQueueCreateInfo::default()
                    .queue_family_index(transfer_family)
                    .queue_priorities(&priorities[..1]),
            );
        }
        // Idle lanes back off on the device clock on a GPU that has one; on a
        // CPU device a waiting lane would burn the core all the same.
        let idle_backoff = info.device_clock && !info.is_cpu();
        let host_import = instance.has_extension(physical, ash::ext::external_memory_host::NAME);
        let mut extensions = Vec::new();
        if idle_backoff {
            extensions.push(ash::khr::shader_clock::NAME.as_ptr());
        }
        if host_import {
            extensions.push(ash::ext::external_memory_host::NAME.as_ptr());
        }
        let mut clock = vk::PhysicalDeviceShaderClockFeaturesKHR::default().shader_device_clock(true);
        let mut device_info =
            vk::DeviceCreateInfo::default().queue_create_infos(&queue_infos).enabled_extension_names(&extensions);
        if idle_backoff {
            device_info = device_info.push_next(&mut clock);
        }
        let exclusive = DRIVER_LIFECYCLE.write();
        // SAFETY: physical belongs to instance; the create infos outlive the call.
        let device = unsafe { instance.instance.create_device(physical, &device_info, None) }
            .map_err(vk_error("vkCreateDevice"))?;
        drop(exclusive);
        // SAFETY: family/0 was requested in device_info.
        let queue = unsafe { device.get_device_queue(family, 0) };
        // SAFETY: transfer_family/transfer_index was requested in device_info.
        let transfer_queue = unsafe { device.get_device_queue(transfer_family, transfer_index) };
        let host_import_alignment = host_import.then(|| {
            let mut host = vk::PhysicalDeviceExternalMemoryHostPropertiesEXT::default();
            let mut props = vk::PhysicalDeviceProperties2::default().push_next(&mut host);
            // SAFETY: physical belongs to instance; the chain lives until the call returns.
            unsafe { instance.instance.get_physical_device_properties2(physical, &mut props) };
            host.min_imported_host_pointer_alignment
        });
        // SAFETY: as above.
        let memory = unsafe { instance.instance.get_physical_device_memory_properties(physical) };
        let workgroup_size = info.workgroup_size();
        let mut gpu = Gpu {
            instance: std::mem::ManuallyDrop::new(instance),
            info,
            physical,
            device,
            queue,
            transfer_queue,
            transfer_family,
            queue_lock: Mutex::new(()),
            transfer_lock: Mutex::new(()),
            host_import_alignment,
            control: Buffer::null(),
            ring: Buffer::null(),
            log: Buffer::null(),
            arena: Buffer::null(),
            rules: Buffer::null(),
            scan: Buffer::null(),
            descriptor_pool: vk::DescriptorPool::null(),
            set_layout: vk::DescriptorSetLayout::null(),
            layout: vk::PipelineLayout::null(),
            pipeline: vk::Pipeline::null(),
            descriptor_set: vk::DescriptorSet::null(),
            command_pool: vk::CommandPool::null(),
            workgroups,
            workgroup_size,
            idle_backoff,
            abandoned: false,
        };
        // From here on, Drop releases whatever was created.
        let [control, ring, log, arena, rules, scan] = buffers;
        gpu.control = gpu.buffer(&memory, &control, false)?;
        gpu.ring = gpu.buffer(&memory, &ring, false)?;
        gpu.log = gpu.buffer(&memory, &log, false)?;
        gpu.arena = gpu.buffer(&memory, &arena, true)?;
        gpu.rules = gpu.buffer(&memory, &rules, false)?;
        gpu.scan = gpu.buffer(&memory, &scan, false)?;
        gpu.pipeline_objects()?;
        Ok(gpu)
    }

    /// A shared buffer; a `copy_target` (the arena) also receives the
    /// staged path's copies, possibly from the transfer queue's family.
    fn buffer(
        &self,
        memory: &vk::PhysicalDeviceMemoryProperties,
        init: &BufferInit,
        copy_target: bool,
    ) -> Result<Buffer> {
        // At least one 16-byte element: the arena is read as uvec4s.
        let words = init.words.max(init.initial.len()).max(4);
        let bytes = (words * 4) as u64;
        if bytes > self.info.max_storage_buffer_range {
            return Err(Error::new(
                ErrorKind::OutOfMemory,
                format!(
                    "{} needs {bytes} bytes, more than this device's maxStorageBufferRange ({}); ask for {}",
                    init.name, self.info.max_storage_buffer_range, init.smaller
                ),
            ));
        }
        let families = [self.info.queue_family.unwrap_or(0), self.transfer_family];
        let mut create = vk::BufferCreateInfo::default().size(bytes).usage(vk::BufferUsageFlags::STORAGE_BUFFER);
        if copy_target {
            create = create.usage(vk::BufferUsageFlags::STORAGE_BUFFER | vk::BufferUsageFlags::TRANSFER_DST);
        }
        if copy_target && families[0] != families[1] {
            // Written by the transfer family's copies while the compute
            // family's kernel reads it: concurrent sharing needs no queue
            // family ownership transfers, which a resident kernel (one
            // dispatch that never ends) could not take part in.
            create = create.sharing_mode(vk::SharingMode::CONCURRENT).queue_family_indices(&families);
        }
        // SAFETY: the device is alive; the create info outlives the call.
        let buffer = unsafe { self.device.create_buffer(&create, None) }.map_err(vk_error("vkCreateBuffer"))?;
        let mut out = Buffer { buffer, ..Buffer::null() };
        // SAFETY: buffer was just created on this device.
        let needs = unsafe { self.device.get_buffer_memory_requirements(buffer) };
        let choose = |wanted: vk::MemoryPropertyFlags| {
            memory
                .memory_types_as_slice()
                .iter()
                .enumerate()
                .position(|(i, t)| needs.memory_type_bits & (1 << i) != 0 && t.property_flags.contains(wanted))
        };
        let host = vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT;
        let (type_index, placement) = match choose(host | vk::MemoryPropertyFlags::DEVICE_LOCAL) {
            Some(i) => (i, Placement::Bar),
            None => (
                choose(host).ok_or_else(|| {
                    Error::new(ErrorKind::Unsupported, "the device has no host-visible coherent memory type")
                })?,
                Placement::HostCoherent,
            ),
        };
        let allocate =
            vk::MemoryAllocateInfo::default().allocation_size(needs.size).memory_type_index(type_index as u32);
        let destroy_buffer = |e| {
            // SAFETY: buffer is unused and owned here.
            unsafe { self.device.destroy_buffer(buffer, None) };
            e
        };
        // SAFETY: the allocate info names a memory type of this device.
        let memory = unsafe { self.device.allocate_memory(&allocate, None) }
            .map_err(|e| {
                Error::new(
                    if matches!(e, vk::Result::ERROR_OUT_OF_DEVICE_MEMORY | vk::Result::ERROR_OUT_OF_HOST_MEMORY) {
                        ErrorKind::OutOfMemory
                    } else {
                        ErrorKind::DeviceLost
                    },
                    format!(
                        "vkAllocateMemory of {} bytes for {} failed: {e}{}; ask for {}",
                        needs.size,
                        init.name,
                        heap_note(memory, type_index, placement),
                        init.smaller
                    ),
                )
            })
            .map_err(destroy_buffer)?;
        out.memory = memory;
        // SAFETY: memory was allocated for this buffer's requirements; both are unbound and ours.
        let mapped = unsafe {
            self.device
                .bind_buffer_memory(buffer, memory, 0)
                .and_then(|()| self.device.map_memory(memory, 0, vk::WHOLE_SIZE, vk::MemoryMapFlags::empty()))
        };
        let mapped = match mapped {
            Ok(p) => p.cast::<AtomicU32>(),
            Err(e) => {
                // SAFETY: neither object is in use.
                unsafe {
                    self.device.free_memory(memory, None);
                    self.device.destroy_buffer(buffer, None);
                }
                return Err(vk_error("vkMapMemory")(e));
            }
        };
        out.mapped = mapped;
        out.words = words;
        out.placement = placement;
        for (word, &value) in out.words().iter().zip(init.initial) {
            word.store(value, std::sync::atomic::Ordering::Relaxed);
        }
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        Ok(out)
    }

    fn pipeline_objects(&mut self) -> Result<()> {
        let d = &self.device;
        let bindings: Vec<_> = (0..SHARED_BUFFERS as u32)
            .map(|b| {
                vk::DescriptorSetLayoutBinding::default()
                    .binding(b)
                    .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                    .descriptor_count(1)
                    .stage_flags(vk::ShaderStageFlags::COMPUTE)
            })
            .collect();
        // SAFETY (all calls below): the device is alive and every create info
        // outlives its call; created objects are stored in self for Drop.
        self.set_layout = unsafe {
            d.create_descriptor_set_layout(&vk::DescriptorSetLayoutCreateInfo::default().bindings(&bindings), None)
        }
        .map_err(vk_error("vkCreateDescriptorSetLayout"))?;
        let push = vk::PushConstantRange::default()
            .stage_flags(vk::ShaderStageFlags::COMPUTE)
            .size(std::mem::size_of::<SliceParams>() as u32);
        let layouts = [self.set_layout];
        self.layout = unsafe {
            d.create_pipeline_layout(
                &vk::PipelineLayoutCreateInfo::default()
                    .set_layouts(&layouts)
                    .push_constant_ranges(std::slice::from_ref(&push)),
                None,
            )
        }
        .map_err(vk_error("vkCreatePipelineLayout"))?;
        let spirv = if self.idle_backoff { MEGAKERNEL_BACKOFF_SPIRV } else { MEGAKERNEL_SPIRV };
        let code = ash::util::read_spv(&mut std::io::Cursor::new(spirv))
            .map_err(|e| Error::new(ErrorKind::Internal, format!("embedded SPIR-V is malformed: {e}")))?;
        let module = unsafe { d.create_shader_module(&vk::ShaderModuleCreateInfo::default().code(&code), None) }
            .map_err(vk_error("vkCreateShaderModule"))?;
        let local_size = self.workgroup_size.to_ne_bytes();
        let entries = [vk::SpecializationMapEntry::default().constant_id(0).offset(0).size(4)];
        let specialization = vk::SpecializationInfo::default().map_entries(&entries).data(&local_size);
        let stage = vk::PipelineShaderStageCreateInfo::default()
            .stage(vk::ShaderStageFlags::COMPUTE)
            .module(module)
            .name(c"main")
            .specialization_info(&specialization);
        let create = vk::ComputePipelineCreateInfo::default().stage(stage).layout(self.layout);
        let pipelines = unsafe { d.create_compute_pipelines(vk::PipelineCache::null(), &[create], None) };
        unsafe { d.destroy_shader_module(module, None) };
        self.pipeline = pipelines.map_err(|(_, e)| vk_error("vkCreateComputePipelines")(e))?[0];

        let pool_size = vk::DescriptorPoolSize::default().ty(vk::DescriptorType::STORAGE_BUFFER).descriptor_count(3);
        self.descriptor_pool = unsafe {
            d.create_descriptor_pool(
                &vk::DescriptorPoolCreateInfo::default().max_sets(1).pool_sizes(std::slice::from_ref(&pool_size)),
                None,
            )
        }
        .map_err(vk_error("vkCreateDescriptorPool"))?;
        self.descriptor_set = unsafe {
            d.allocate_descriptor_sets(
                &vk::DescriptorSetAllocateInfo::default().descriptor_pool(self.descriptor_pool).set_layouts(&layouts),
            )
        }
        .map_err(vk_error("vkAllocateDescriptorSets"))?[0];
        let infos: Vec<_> = self
            .buffers()
            .iter()
            .map(|b| b.buffer)
            .map(|b| vk::DescriptorBufferInfo::default().buffer(b).offset(0).range(vk::WHOLE_SIZE))
            .collect();
        let writes: Vec<_> = infos
            .iter()
            .enumerate()
            .map(|(i, info)| {
                vk::WriteDescriptorSet::default()
                    .dst_set(self.descriptor_set)
                    .dst_binding(i as u32)
                    .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                    .buffer_info(std::slice::from_ref(info))
            })
            .collect();
        unsafe { d.update_descriptor_sets(&writes, &[]) };
        let family = self.info.queue_family.unwrap_or(0);
        self.command_pool =
            unsafe { d.create_command_pool(&vk::CommandPoolCreateInfo::default().queue_family_index(family), None) }
                .map_err(vk_error("vkCreateCommandPool"))?;
        Ok(())
    }

    pub fn lane_count(&self) -> u32 {
        self.workgroups * self.workgroup_size
    }

    /// The shared buffers in binding order.
    fn buffers(&self) -> [&Buffer; SHARED_BUFFERS] {
        [&self.control, &self.ring, &self.log, &self.arena, &self.rules, &self.scan]
    }

    /// A command buffer that runs one slice with `params`.
    pub fn record_slice(&self, params: SliceParams) -> Result<vk::CommandBuffer> {
        let d = &self.device;
        let allocate = vk::CommandBufferAllocateInfo::default()
            .command_pool(self.command_pool)
            .level(vk::CommandBufferLevel::PRIMARY)
            .command_buffer_count(1);
        // SAFETY: the pool belongs to this device and only the creating
        // thread records into it (recording happens before the driver starts).
        let cb = unsafe { d.allocate_command_buffers(&allocate) }.map_err(vk_error("vkAllocateCommandBuffers"))?[0];
        // SAFETY: cb is new; every bound object outlives it (destroyed in Drop).
        unsafe {
            d.begin_command_buffer(cb, &vk::CommandBufferBeginInfo::default())
                .map_err(vk_error("vkBeginCommandBuffer"))?;
            d.cmd_bind_pipeline(cb, vk::PipelineBindPoint::COMPUTE, self.pipeline);
            d.cmd_bind_descriptor_sets(cb, vk::PipelineBindPoint::COMPUTE, self.layout, 0, &[self.descriptor_set], &[]);
            let bytes = [
                params.budget,
                params.max_passes,
                params.lane_count,
                params.idle_passes,
                params.backoff_max,
                params.idle_exit,
                params.slice_ticks,
            ];
            let bytes: Vec<u8> = bytes.iter().flat_map(|w| w.to_ne_bytes()).collect();
            d.cmd_push_constants(cb, self.layout, vk::ShaderStageFlags::COMPUTE, 0, &bytes);
            d.cmd_dispatch(cb, self.workgroups, 1, 1);
            d.end_command_buffer(cb).map_err(vk_error("vkEndCommandBuffer"))?;
        }
        Ok(cb)
    }

    pub fn fence(&self) -> Result<vk::Fence> {
        // SAFETY: the device is alive.
        unsafe { self.device.create_fence(&vk::FenceCreateInfo::default(), None) }.map_err(vk_error("vkCreateFence"))
    }

    /// Submit a slice `cb` to the compute queue, signalling `fence`.
    pub fn submit(&self, cb: vk::CommandBuffer, fence: vk::Fence) -> Result<()> {
        self.submit_to(self.queue, cb, fence)
    }

    /// Submit a staging copy `cb` to the transfer queue, signalling `fence`.
    pub fn submit_transfer(&self, cb: vk::CommandBuffer, fence: vk::Fence) -> Result<()> {
        self.submit_to(self.transfer_queue, cb, fence)
    }

    fn submit_to(&self, queue: vk::Queue, cb: vk::CommandBuffer, fence: vk::Fence) -> Result<()> {
        let cbs = [cb];
        let submit = vk::SubmitInfo::default().command_buffers(&cbs);
        let _turn = if queue == self.queue { self.queue_lock.lock() } else { self.transfer_lock.lock() };
        let _shared = DRIVER_LIFECYCLE.read();
        // SAFETY: the queue's lock is held (external synchronisation); cb is
        // recorded and not pending.
        unsafe { self.device.queue_submit(queue, &[submit], fence) }.map_err(vk_error("vkQueueSubmit"))
    }

    /// Wait for `fence`: Ok(true) signalled, Ok(false) timed out.
    pub fn wait(&self, fence: vk::Fence, timeout_ns: u64) -> Result<bool> {
        // SAFETY: the fence belongs to this device.
        match unsafe { self.device.wait_for_fences(&[fence], true, timeout_ns) } {
            Ok(()) => Ok(true),
            Err(vk::Result::TIMEOUT) => Ok(false),
            Err(e) => Err(vk_error("vkWaitForFences")(e)),
        }
    }

    pub fn reset(&self, fence: vk::Fence) -> Result<()> {
        // SAFETY: the fence is not pending (it signalled).
        unsafe { self.device.reset_fences(&[fence]) }.map_err(vk_error("vkResetFences"))
    }

    pub fn destroy_fence(&self, fence: vk::Fence) {
        // SAFETY: the fence is not pending (its work finished or the device is idle).
        unsafe { self.device.destroy_fence(fence, None) };
    }
}

/// The queue for staging copies, as (family, index in family): a family
/// with TRANSFER but neither COMPUTE nor GRAPHICS (a copy engine of its
/// own), else a second queue of the compute family, else the compute queue
/// itself (lavapipe has one queue: copies then wait behind the kernel's
/// queued slices, and share its lock).
fn transfer_queue(families: &[vk::QueueFamilyProperties], compute: u32) -> (u32, u32) {
    let dedicated = families.iter().position(|f| {
        f.queue_count > 0
            && f.queue_flags.contains(vk::QueueFlags::TRANSFER)
            && !f.queue_flags.intersects(vk::QueueFlags::COMPUTE | vk::QueueFlags::GRAPHICS)
    });
    match dedicated {
        Some(family) => (family as u32, 0),
        None if families.get(compute as usize).is_some_and(|f| f.queue_count > 1) => (compute, 1),
        None => (compute, 0),
    }
}

impl Buffer {
    fn null() -> Buffer {
        Buffer {
            buffer: vk::Buffer::null(),
            memory: vk::DeviceMemory::null(),
            mapped: std::ptr::null_mut(),
            words: 0,
            placement: Placement::HostCoherent,
        }
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        if self.abandoned {
            // A hung or lost device may still run our kernel; freeing what it
            // uses, or the instance it belongs to, would be undefined
            // behaviour, so all of it is leaked.
            return;
        }
        let d = &self.device;
        // SAFETY: no work is pending (the backend waited for its fences or
        // the device is idle), so every object can be destroyed; null handles
        // are ignored by Vulkan.
        unsafe {
            let _ = d.device_wait_idle();
            d.destroy_command_pool(self.command_pool, None);
            d.destroy_descriptor_pool(self.descriptor_pool, None);
            d.destroy_pipeline(self.pipeline, None);
            d.destroy_pipeline_layout(self.layout, None);
            d.destroy_descriptor_set_layout(self.set_layout, None);
            for buffer in self.buffers() {
                if !buffer.mapped.is_null() {
                    d.unmap_memory(buffer.memory);
                }
                d.destroy_buffer(buffer.buffer, None);
                d.free_memory(buffer.memory, None);
            }
            let exclusive = DRIVER_LIFECYCLE.write();
            d.destroy_device(None);
            drop(exclusive);
            // SAFETY: the device, the instance's last child, is gone.
            std::mem::ManuallyDrop::drop(&mut self.instance);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Staging copies take a copy engine where one exists (NVIDIA: a
    /// TRANSFER-only family), else a second compute queue, else share the
    /// compute queue (lavapipe: one family, one queue).
    #[test]
    fn copies_prefer_a_transfer_only_family_then_a_second_compute_queue() {
        let family = |flags: vk::QueueFlags, queue_count: u32| vk::QueueFamilyProperties {
            queue_flags: flags,
            queue_count,
            ..Default::default()
        };
        let all = vk::QueueFlags::GRAPHICS | vk::QueueFlags::COMPUTE | vk::QueueFlags::TRANSFER;
        let compute = vk::QueueFlags::COMPUTE | vk::QueueFlags::TRANSFER;
        let copy = vk::QueueFlags::TRANSFER;
        assert_eq!(transfer_queue(&[family(all, 16), family(copy, 2), family(compute, 8)], 0), (1, 0));
        assert_eq!(transfer_queue(&[family(all, 16), family(compute, 8)], 0), (0, 1));
        assert_eq!(transfer_queue(&[family(all, 1)], 0), (0, 0));
        assert_eq!(transfer_queue(&[family(all, 1), family(copy, 0)], 0), (0, 0), "a family without queues");
    }

    #[test]
    fn a_failed_allocation_names_its_heap_and_the_bar() {
        let mut memory =
            vk::PhysicalDeviceMemoryProperties { memory_type_count: 2, memory_heap_count: 2, ..Default::default() };
        memory.memory_heaps[0].size = 256 << 20;
        memory.memory_heaps[1].size = 64 << 30;
        memory.memory_types[1].heap_index = 1;
        let bar = heap_note(&memory, 0, Placement::Bar);
        assert!(bar.contains("256 MiB") && bar.contains("resizable BAR"), "{bar}");
        let host = heap_note(&memory, 1, Placement::HostCoherent);
        assert!(host.contains("65536 MiB") && !host.contains("BAR"), "{host}");
    }

    /// The ring scan's start jumps by SCAN_JUMP modulo the ring size each
    /// pass (shaders/megakernel.comp, main): for any ring size the starts
    /// must reach every slot, or a slot could be scanned by no lane.
    #[test]
    fn the_scan_jump_reaches_every_slot_of_any_ring() {
        let shader = include_str!("../../../shaders/megakernel.comp");
        let jump: u32 = shader
            .lines()
            .find_map(|line| line.strip_prefix("const uint SCAN_JUMP = ")?.strip_suffix("u;")?.parse().ok())
            .expect("shaders/megakernel.comp defines SCAN_JUMP");
        assert!(jump > crate::protocol::abi::VYRE_MAX_SLOTS, "{jump} is not above every ring size");
        for slot_count in [1u32, 2, 63, 64, 1000, 1024, 4096, 5000, 65_535, 65_536] {
            let step = jump % slot_count;
            let mut seen = vec![false; slot_count as usize];
            for pass in 0..slot_count {
                // As the shader computes it, in 32-bit arithmetic.
                seen[((pass % slot_count) * step % slot_count) as usize] = true;
            }
            assert!(seen.iter().all(|&s| s), "ring of {slot_count}: some slot is never where a scan starts");
        }
    }

    /// Every constant the shader sees (vyre_abi.glsl, generated by build.rs)
    /// has the value Rust uses: build.rs writes each parsed literal next to
    /// the Rust constant of the same name, resolved by the compiler.
    #[test]
    fn shader_constants_agree_with_the_protocol() {
        let table: &[(&str, u64, u64)] = include!(concat!(env!("OUT_DIR"), "/abi_table.rs"));
        assert!(table.len() > 100, "the table covers abi.rs ({} entries)", table.len());
        for &(name, parsed, rust) in table {
            assert_eq!(parsed, rust, "{name}: shader sees {parsed:#x}, Rust uses {rust:#x}");
        }
        let glsl = include_str!(concat!(env!("OUT_DIR"), "/vyre_abi.glsl"));
        for &(name, value, _) in table {
            assert!(glsl.contains(&format!("#define {name} {value:#x}u\n")), "{name} missing from vyre_abi.glsl");
        }
    }
}
