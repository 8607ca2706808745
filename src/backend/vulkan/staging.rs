//! Staging memory and copies on a Vulkan device, for the pump's staged
//! ingest path (docs/PUMP.md): io_uring reads into system memory, the
//! transfer queue copies it into the arena, and only the copy engine ever
//! reads the staging memory (a resident kernel must never read system
//! memory the host rewrites: the H100 caches it in L2, DESIGN.md section 3).

use super::gpu::vk_error;
use super::Shared;
use crate::backend::staging::{page_size, too_large, HostPages, Staging};
use crate::error::{Error, ErrorKind, Result};
use ash::vk;
use std::time::{Duration, Instant};

/// Staging buffers in one buffer object, each with its own command buffer
/// and fence: a buffer is free again once its fence has signalled.
pub(super) struct VulkanStaging<'a> {
    shared: &'a Shared,
    /// The imported pages (VK_EXT_external_memory_host); `None` where the
    /// memory is a mapped Vulkan allocation.
    host: Option<HostPages>,
    memory: vk::DeviceMemory,
    buffer: vk::Buffer,
    base: *mut u8,
    stride: usize,
    count: usize,
    pool: vk::CommandPool,
    copies: Vec<(vk::CommandBuffer, vk::Fence)>,
    in_flight: Vec<bool>,
}

// SAFETY: the handles belong to a device that may be used from any thread;
// the command pool and buffers are used only by the owner of this value (the
// pump, under its lock), submits synchronise through `Gpu::submit_transfer`,
// and `base` points to memory this value owns.
unsafe impl Send for VulkanStaging<'_> {}

impl<'a> VulkanStaging<'a> {
    pub(super) fn new(shared: &'a Shared, count: usize, bytes: usize) -> Result<VulkanStaging<'a>> {
        let gpu = &shared.gpu;
        let page = page_size();
        // Import only where the pages mmap gives are aligned enough for it.
        let import = gpu.host_import_alignment.filter(|&a| a as usize <= page && page % a as usize == 0).is_some();
        let stride = bytes.max(1).next_multiple_of(page);
        let total = stride.checked_mul(count).ok_or_else(|| too_large(count, bytes))?;
        let mut staging = VulkanStaging {
            shared,
            host: None,
            memory: vk::DeviceMemory::null(),
            buffer: vk::Buffer::null(),
            base: std::ptr::null_mut(),
            stride,
            count,
            pool: vk::CommandPool::null(),
            copies: Vec::with_capacity(count),
            in_flight: vec![false; count],
        };
        // From here on, Drop releases whatever was created.
        let d = &gpu.device;
        let mut external = vk::ExternalMemoryBufferCreateInfo::default()
            .handle_types(vk::ExternalMemoryHandleTypeFlags::HOST_ALLOCATION_EXT);
        let mut create = vk::BufferCreateInfo::default()
            .size(total as u64)
            .usage(vk::BufferUsageFlags::TRANSFER_SRC)
            .sharing_mode(vk::SharingMode::EXCLUSIVE);
        if import {
            create = create.push_next(&mut external);
        }
        // SAFETY: the device is alive; the create info and its chain outlive the call.
        staging.buffer = unsafe { d.create_buffer(&create, None) }.map_err(vk_error("vkCreateBuffer (staging)"))?;
        // SAFETY: the buffer was just created on this device.
        let needs = unsafe { d.get_buffer_memory_requirements(staging.buffer) };
        if import {
            staging.import(needs)?;
        } else {
            staging.allocate(needs)?;
        }
        // SAFETY: memory was allocated (or imported) for this buffer's requirements; both are ours and unbound.
        unsafe { d.bind_buffer_memory(staging.buffer, staging.memory, 0) }.map_err(vk_error("vkBindBufferMemory"))?;
        let pool = vk::CommandPoolCreateInfo::default()
            .queue_family_index(gpu.transfer_family)
            .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER | vk::CommandPoolCreateFlags::TRANSIENT);
        // SAFETY: the device is alive; the family was requested at device creation.
        staging.pool = unsafe { d.create_command_pool(&pool, None) }.map_err(vk_error("vkCreateCommandPool"))?;
        let allocate = vk::CommandBufferAllocateInfo::default()
            .command_pool(staging.pool)
            .level(vk::CommandBufferLevel::PRIMARY)
            .command_buffer_count(count as u32);
        // SAFETY: the pool belongs to this device and is used by this value only.
        let commands =
            unsafe { d.allocate_command_buffers(&allocate) }.map_err(vk_error("vkAllocateCommandBuffers"))?;
        for cb in commands {
            staging.copies.push((cb, gpu.fence()?));
        }
        Ok(staging)
    }

    /// Import page-aligned pages of our own (VK_EXT_external_memory_host).
    fn import(&mut self, needs: vk::MemoryRequirements) -> Result<()> {
        let gpu = &self.shared.gpu;
        let pages = HostPages::new((needs.size as usize).max(self.stride * self.count))?;
        let ext = ash::ext::external_memory_host::Device::new(&gpu.instance.instance, &gpu.device);
        let handle_type = vk::ExternalMemoryHandleTypeFlags::HOST_ALLOCATION_EXT;
        let mut props = vk::MemoryHostPointerPropertiesEXT::default();
        // SAFETY: the extension is enabled on this device (host_import_alignment
        // is set only then); the pointer is a live mapping we own.
        let queried = unsafe {
            (ext.fp().get_memory_host_pointer_properties_ext)(
                gpu.device.handle(),
                handle_type,
                pages.ptr().cast(),
                &mut props,
            )
        };
        queried.result().map_err(vk_error("vkGetMemoryHostPointerPropertiesEXT"))?;
        let bits = needs.memory_type_bits & props.memory_type_bits;
        if bits == 0 {
            return Err(unsupported("no memory type can import host pages for a transfer source"));
        }
        let mut info =
            vk::ImportMemoryHostPointerInfoEXT::default().handle_type(handle_type).host_pointer(pages.ptr().cast());
        let allocate = vk::MemoryAllocateInfo::default()
            .allocation_size(pages.len() as u64)
            .memory_type_index(bits.trailing_zeros())
            .push_next(&mut info);
        // SAFETY: the memory type accepts this pointer (queried above); the
        // pages stay mapped until after the memory is freed (Drop).
        self.memory =
            unsafe { gpu.device.allocate_memory(&allocate, None) }.map_err(vk_error("vkAllocateMemory (import)"))?;
        self.base = pages.ptr();
        self.host = Some(pages);
        Ok(())
    }

    /// Allocate host-visible coherent system memory and map it. Whether
    /// io_uring can register it depends on the driver (the pump checks).
    fn allocate(&mut self, needs: vk::MemoryRequirements) -> Result<()> {
        let gpu = &self.shared.gpu;
        // SAFETY: the physical device belongs to the instance.
        let memory = unsafe { gpu.instance.instance.get_physical_device_memory_properties(gpu.physical) };
        let host = vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT;
        let types = memory.memory_types_as_slice();
        let usable = |i: usize| needs.memory_type_bits & (1 << i) != 0 && types[i].property_flags.contains(host);
        // System memory first: the BAR is small and the arena's.
        let index = (0..types.len())
            .find(|&i| usable(i) && !types[i].property_flags.contains(vk::MemoryPropertyFlags::DEVICE_LOCAL))
            .or_else(|| (0..types.len()).find(|&i| usable(i)))
            .ok_or_else(|| unsupported("the device has no host-visible coherent memory type for staging"))?;
        let allocate = vk::MemoryAllocateInfo::default().allocation_size(needs.size).memory_type_index(index as u32);
        // SAFETY: the allocate info names a memory type of this device.
        self.memory =
            unsafe { gpu.device.allocate_memory(&allocate, None) }.map_err(vk_error("vkAllocateMemory (staging)"))?;
        // SAFETY: the memory is host visible, ours and not mapped yet.
        let mapped = unsafe { gpu.device.map_memory(self.memory, 0, vk::WHOLE_SIZE, vk::MemoryMapFlags::empty()) }
            .map_err(vk_error("vkMapMemory (staging)"))?;
        self.base = mapped.cast();
        Ok(())
    }
}

fn unsupported(why: &str) -> Error {
    Error::new(ErrorKind::Unsupported, format!("{why}; use the direct ingest path (VYRE_PUMP_PATH_DIRECT)"))
}

impl Staging for VulkanStaging<'_> {
    fn base(&self) -> *mut u8 {
        self.base
    }

    fn stride(&self) -> usize {
        self.stride
    }

    fn count(&self) -> usize {
        self.count
    }

    fn copy(&mut self, index: usize, arena_offset: u64, len: u64) -> Result<()> {
        let gpu = &self.shared.gpu;
        let arena = gpu.arena.bytes().len() as u64;
        let inside = arena_offset.checked_add(len).is_some_and(|end| end <= arena);
        if index >= self.count || self.in_flight[index] || len == 0 || len > self.stride as u64 || !inside {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("staging copy of {len} bytes from buffer {index} to arena offset {arena_offset} is not valid"),
            ));
        }
        self.shared.health()?;
        let (cb, fence) = self.copies[index];
        let d = &gpu.device;
        let region = vk::BufferCopy { src_offset: (index * self.stride) as u64, dst_offset: arena_offset, size: len };
        // The copy's writes are made available before the fence signals.
        // No Vulkan dependency reaches a dispatch already running on another
        // queue: the kernel sees them as it sees the host's writes, through
        // its `coherent` arena loads, once the pump, having seen the fence,
        // publishes the job (docs/PUMP.md, "Ingest paths").
        let barrier = vk::MemoryBarrier::default()
            .src_access_mask(vk::AccessFlags::TRANSFER_WRITE)
            .dst_access_mask(vk::AccessFlags::MEMORY_READ);
        // SAFETY: cb belongs to this value's pool and is not pending (its
        // fence signalled, or it was never submitted); the buffers outlive
        // the copy (Drop waits for it); the region lies inside both (checked
        // above, and index < count).
        unsafe {
            d.reset_command_buffer(cb, vk::CommandBufferResetFlags::empty())
                .map_err(vk_error("vkResetCommandBuffer"))?;
            let begin = vk::CommandBufferBeginInfo::default().flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT);
            d.begin_command_buffer(cb, &begin).map_err(vk_error("vkBeginCommandBuffer"))?;
            d.cmd_copy_buffer(cb, self.buffer, gpu.arena.buffer, &[region]);
            d.cmd_pipeline_barrier(
                cb,
                vk::PipelineStageFlags::TRANSFER,
                vk::PipelineStageFlags::ALL_COMMANDS,
                vk::DependencyFlags::empty(),
                &[barrier],
                &[],
                &[],
            );
            d.end_command_buffer(cb).map_err(vk_error("vkEndCommandBuffer"))?;
        }
        gpu.reset(fence)?;
        gpu.submit_transfer(cb, fence)?;
        self.in_flight[index] = true;
        Ok(())
    }

    fn copied(&mut self, index: usize) -> Result<bool> {
        if !self.in_flight.get(index).copied().unwrap_or(false) {
            return Ok(true);
        }
        if !self.shared.gpu.wait(self.copies[index].1, 0)? {
            // A copy queued behind a hung kernel (a shared queue) never ends:
            // the backend's failure ends the wait instead.
            self.shared.health()?;
            return Ok(false);
        }
        self.in_flight[index] = false;
        Ok(true)
    }

    fn wait_all(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        for index in 0..self.count {
            while !matches!(self.copied(index), Ok(true) | Err(_)) {
                if Instant::now() >= deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        !self.in_flight.iter().any(|&f| f)
    }
}

impl Drop for VulkanStaging<'_> {
    fn drop(&mut self) {
        if !self.wait_all(Duration::from_secs(10)) {
            // A copy may still read the staging memory and write the arena
            // (a hung or lost device): leak both rather than free them under it.
            std::mem::forget(self.host.take());
            return;
        }
        let d = &self.shared.gpu.device;
        // SAFETY: no copy is pending (waited above), so every object can be
        // destroyed; null handles are ignored by Vulkan. The imported pages
        // are unmapped after the memory importing them is freed.
        unsafe {
            for &(_, fence) in &self.copies {
                d.destroy_fence(fence, None);
            }
            d.destroy_command_pool(self.pool, None);
            d.destroy_buffer(self.buffer, None);
            if self.host.is_none() && !self.base.is_null() {
                d.unmap_memory(self.memory);
            }
            d.free_memory(self.memory, None);
        }
        self.host = None;
    }
}
