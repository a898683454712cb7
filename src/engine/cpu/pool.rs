//! Recycled tensor buffers. Every op produces a new tensor; the same sizes
//! recur at every step, so buffers freed by one step serve the next instead of
//! going back to the allocator (which, for large blocks, means returning pages
//! to the kernel and faulting them in again).

use std::collections::HashMap;

/// Buffers smaller than this are cheap to allocate; they are not kept.
const MIN_POOLED: usize = 1024;
/// Free buffers kept per size, at least: what one large layer needs.
const PER_SIZE: usize = 8;
/// Bytes of free buffers kept per size, when that is more than [`PER_SIZE`]
/// buffers: a small net's step frees dozens of buffers of one size at once,
/// and with only eight kept the others were allocated (and zeroed) again at
/// every step.
const BYTES_PER_SIZE: usize = 4 << 20;

#[derive(Debug, Default)]
pub struct BufferPool {
    free: HashMap<usize, Vec<Vec<f32>>>,
}

impl BufferPool {
    /// An empty buffer with room for `n` values.
    pub fn empty(&mut self, n: usize) -> Vec<f32> {
        match self.free.get_mut(&n).and_then(Vec::pop) {
            Some(mut b) => {
                b.clear();
                b
            }
            None => Vec::with_capacity(n),
        }
    }

    /// A buffer of length `n` whose contents are unspecified (an earlier
    /// tensor's values, or zeros): for kernels that overwrite every element,
    /// such as a GEMM with beta = 0, which never reads its output.
    pub fn overwritable(&mut self, n: usize) -> Vec<f32> {
        match self.free.get_mut(&n).and_then(Vec::pop) {
            Some(mut b) => {
                b.resize(n, 0.0);
                b
            }
            None => vec![0.0; n],
        }
    }

    /// A buffer of `n` copies of `value`.
    pub fn filled(&mut self, n: usize, value: f32) -> Vec<f32> {
        let mut b = self.empty(n);
        b.resize(n, value);
        b
    }

    /// Takes back a buffer nobody uses any more.
    pub fn recycle(&mut self, b: Vec<f32>) {
        let n = b.capacity();
        if n < MIN_POOLED {
            return;
        }
        let list = self.free.entry(n).or_default();
        if list.len() < PER_SIZE.max(BYTES_PER_SIZE / (n * size_of::<f32>())) {
            list.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycled_buffers_come_back_for_the_same_size() {
        let mut p = BufferPool::default();
        let b = p.filled(4096, 1.0);
        let ptr = b.as_ptr();
        p.recycle(b);
        let again = p.filled(4096, 0.0);
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.iter().all(|&v| v == 0.0));
        assert_eq!(p.empty(10).capacity(), 10);
    }

    #[test]
    fn many_small_buffers_are_kept_few_large_ones() {
        let mut p = BufferPool::default();
        for _ in 0..100 {
            p.recycle(vec![0.0; 2048]);
            p.recycle(vec![0.0; 1 << 20]);
        }
        assert_eq!(p.free[&2048].len(), 100, "8 KiB each: all kept");
        assert_eq!(p.free[&(1 << 20)].len(), PER_SIZE, "4 MiB each: the floor");
    }
}
