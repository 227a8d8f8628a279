//! Growable Arrow buffers that engine decoders write into directly.
//!
//! Each buffer owns plain `Vec`s plus a lazily materialized validity bitmap, and turns
//! into an Arrow array without copying (`Vec` → `Buffer` is a move). Engines hold one
//! buffer per column and push decoded wire values into it.

use std::sync::Arc;

use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryArray, PrimitiveArray, StringArray,
};
use arrow_buffer::{
    ArrowNativeType, BooleanBufferBuilder, Buffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer,
};
use arrow_schema::DataType;

use crate::error::{Error, Result};

/// Release the unused capacity of a finished buffer beyond a page, so that a result
/// holds (and its `nbytes` reports) its data and not the room reserved for it: a text
/// column's buffer is reserved an eighth above the previous batch's bytes. Shrinking
/// never copies: `realloc` splits a heap block in place and remaps a large one.
#[inline]
fn trim<T>(v: &mut Vec<T>) {
    let len = v.len() * std::mem::size_of::<T>();
    let cap = v.capacity() * std::mem::size_of::<T>();
    if cap > len + 4096 {
        v.shrink_to_fit();
    }
}

/// Capacity (in values) of a buffer's first allocation. Buffers start small so that a
/// one-row result does not map (and unmap) a batch-sized block per column, and grow by
/// doubling; after the first batch they are sized from the previous batch.
pub const START_CAPACITY: usize = 256;

/// The capacity of the first allocation for a batch of at most `n` rows.
#[inline]
pub fn start_capacity(n: usize) -> usize {
    n.clamp(1, START_CAPACITY)
}

/// Make room for at least one more element: the next batch's known size when the
/// vector is empty (just finished), else double.
#[cold]
#[inline(never)]
fn grow<T>(v: &mut Vec<T>, next: usize) {
    let want = if v.is_empty() { next } else { v.len() };
    v.reserve_exact(want.max(16));
}

/// Take the finished values out of `v`, leaving an empty vector (allocated on the next
/// push, sized by the caller's hint). Returns the values with excess capacity trimmed.
#[inline]
fn take_trimmed<T>(v: &mut Vec<T>) -> Vec<T> {
    let mut out = std::mem::take(v);
    trim(&mut out);
    out
}

/// Values of a fixed-width native type.
pub struct PrimBuf<T: ArrowNativeType> {
    pub values: Vec<T>,
    pub nulls: NullBufferBuilder,
    next: usize,
}

impl<T: ArrowNativeType> PrimBuf<T> {
    pub fn with_capacity(n: usize) -> Self {
        PrimBuf {
            values: Vec::with_capacity(start_capacity(n)),
            nulls: NullBufferBuilder::new(start_capacity(n)),
            next: start_capacity(n),
        }
    }
    #[inline]
    pub fn push(&mut self, v: T) {
        if self.values.len() == self.values.capacity() {
            grow(&mut self.values, self.next);
        }
        self.values.push(v);
        self.nulls.append_non_null();
    }
    #[inline]
    pub fn push_null(&mut self) {
        if self.values.len() == self.values.capacity() {
            grow(&mut self.values, self.next);
        }
        self.values.push(T::default());
        self.nulls.append_null();
    }
    pub fn len(&self) -> usize {
        self.values.len()
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
    pub fn byte_size(&self) -> usize {
        self.values.len() * std::mem::size_of::<T>()
    }
    /// Finish as a primitive array of `P`, retyped to `data_type` (e.g. timestamp with tz).
    pub fn finish<P: ArrowPrimitiveType<Native = T>>(
        &mut self,
        data_type: &DataType,
    ) -> Result<ArrayRef> {
        self.next = self.values.len().max(16);
        let values = take_trimmed(&mut self.values);
        let nulls = self.nulls.finish();
        let arr = PrimitiveArray::<P>::try_new(ScalarBuffer::from(values), nulls)?
            .with_data_type(data_type.clone());
        Ok(Arc::new(arr))
    }
}

/// Booleans, bit-packed.
pub struct BoolBuf {
    pub values: BooleanBufferBuilder,
    pub nulls: NullBufferBuilder,
    len: usize,
}

impl BoolBuf {
    pub fn with_capacity(n: usize) -> Self {
        BoolBuf {
            values: BooleanBufferBuilder::new(start_capacity(n)),
            nulls: NullBufferBuilder::new(start_capacity(n)),
            len: 0,
        }
    }
    #[inline]
    pub fn push(&mut self, v: bool) {
        self.values.append(v);
        self.nulls.append_non_null();
        self.len += 1;
    }
    #[inline]
    pub fn push_null(&mut self) {
        self.values.append(false);
        self.nulls.append_null();
        self.len += 1;
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn finish(&mut self) -> Result<ArrayRef> {
        self.len = 0;
        Ok(Arc::new(BooleanArray::new(
            self.values.finish(),
            self.nulls.finish(),
        )))
    }
}

/// Variable-length values (UTF-8 or binary) with i32 offsets.
pub struct VarBuf {
    pub offsets: Vec<i32>,
    pub values: Vec<u8>,
    pub nulls: NullBufferBuilder,
    next_rows: usize,
    next_bytes: usize,
}

/// The largest values buffer a batch may hold before the decoder must cut the batch.
pub const VAR_BUF_LIMIT: usize = i32::MAX as usize;

impl VarBuf {
    /// A buffer for batches of up to `n` values of about `bytes / n` bytes each.
    pub fn with_capacity(n: usize, bytes: usize) -> Self {
        let rows = start_capacity(n);
        let bytes = bytes.checked_div(n).unwrap_or(0) * rows;
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        VarBuf {
            offsets,
            values: Vec::with_capacity(bytes),
            nulls: NullBufferBuilder::new(rows),
            next_rows: rows + 1,
            next_bytes: bytes,
        }
    }
    #[inline]
    pub fn push(&mut self, v: &[u8]) -> Result<()> {
        if self.values.capacity() - self.values.len() < v.len() {
            self.grow_values(v.len());
        }
        self.values.extend_from_slice(v);
        self.commit()
    }
    /// Make room for `additional` more value bytes (sized from the previous batch when
    /// the buffer was just finished).
    #[cold]
    #[inline(never)]
    pub fn grow_values(&mut self, additional: usize) {
        let want = if self.values.is_empty() {
            self.next_bytes.max(additional)
        } else {
            self.values.len().max(additional)
        };
        self.values.reserve_exact(want.max(64));
    }
    /// Record the end of a value whose bytes were appended to `values` directly.
    #[inline]
    pub fn commit(&mut self) -> Result<()> {
        let end = i32::try_from(self.values.len()).map_err(|_| {
            Error::data(
                "a text or binary column exceeds 2 GiB within one batch; use a smaller batch_size",
            )
        })?;
        if self.offsets.len() == self.offsets.capacity() {
            grow(&mut self.offsets, self.next_rows);
        }
        self.offsets.push(end);
        self.nulls.append_non_null();
        Ok(())
    }
    #[inline]
    pub fn push_null(&mut self) {
        if self.offsets.len() == self.offsets.capacity() {
            grow(&mut self.offsets, self.next_rows);
        }
        self.offsets.push(*self.offsets.last().unwrap_or(&0));
        self.nulls.append_null();
    }
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn byte_size(&self) -> usize {
        self.values.len() + self.offsets.len() * 4
    }
    fn take(&mut self) -> (OffsetBuffer<i32>, Buffer, Option<arrow_buffer::NullBuffer>) {
        // The next batch is sized like this one (plus an eighth for the bytes).
        self.next_rows = self.offsets.len().max(17);
        self.next_bytes = self.values.len() + self.values.len() / 8;
        let mut offsets = take_trimmed(&mut self.offsets);
        if offsets.is_empty() {
            offsets.push(0);
        }
        let values = take_trimmed(&mut self.values);
        self.offsets.reserve_exact(self.next_rows);
        self.offsets.push(0);
        // Offsets are monotonic by construction (only ever pushed from values.len()).
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        (offsets, Buffer::from_vec(values), self.nulls.finish())
    }
    /// Finish as UTF-8, validating the bytes (servers may send invalid text).
    pub fn finish_utf8(&mut self, data_type: &DataType) -> Result<ArrayRef> {
        let (offsets, values, nulls) = self.take();
        let arr = StringArray::try_new(offsets, values, nulls)
            .map_err(|e| Error::data(format!("invalid UTF-8 in a text column: {e}")))?;
        if data_type != &DataType::Utf8 {
            return Err(Error::data(format!("unexpected text type {data_type}")));
        }
        Ok(Arc::new(arr))
    }
    pub fn finish_binary(&mut self) -> Result<ArrayRef> {
        let (offsets, values, nulls) = self.take();
        Ok(Arc::new(BinaryArray::try_new(offsets, values, nulls)?))
    }
}

/// Fixed-size binary values (e.g. 16-byte UUIDs).
pub struct FixedBuf {
    pub width: usize,
    pub values: Vec<u8>,
    pub nulls: NullBufferBuilder,
    len: usize,
    next: usize,
}

impl FixedBuf {
    pub fn with_capacity(width: usize, n: usize) -> Self {
        let rows = start_capacity(n);
        FixedBuf {
            width,
            values: Vec::with_capacity(width * rows),
            nulls: NullBufferBuilder::new(rows),
            len: 0,
            next: width * rows,
        }
    }
    #[inline]
    pub fn push(&mut self, v: &[u8]) -> Result<()> {
        if v.len() != self.width {
            return Err(Error::data(format!(
                "expected a {}-byte value, got {} bytes",
                self.width,
                v.len()
            )));
        }
        if self.values.capacity() - self.values.len() < self.width {
            self.grow();
        }
        self.values.extend_from_slice(v);
        self.nulls.append_non_null();
        self.len += 1;
        Ok(())
    }
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let want = if self.values.is_empty() {
            self.next
        } else {
            self.values.len()
        };
        self.values.reserve_exact(want.max(self.width * 16));
    }
    #[inline]
    pub fn push_null(&mut self) {
        if self.values.capacity() - self.values.len() < self.width {
            self.grow();
        }
        self.values.resize(self.values.len() + self.width, 0);
        self.nulls.append_null();
        self.len += 1;
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn finish(&mut self) -> Result<ArrayRef> {
        self.next = self.values.len().max(self.width * 16);
        let values = take_trimmed(&mut self.values);
        self.len = 0;
        Ok(Arc::new(FixedSizeBinaryArray::try_new(
            self.width as i32,
            Buffer::from_vec(values),
            self.nulls.finish(),
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_text_batches_hold_their_data_not_the_reserved_room() {
        let mut b = VarBuf::with_capacity(1000, 1000 * 100);
        // The first batch: 1000 values of 100 bytes. The next is reserved an eighth more.
        for _ in 0..1000 {
            b.push(&[b'x'; 100]).unwrap();
        }
        let first = b.finish_utf8(&DataType::Utf8).unwrap();
        assert_eq!(first.len(), 1000);
        // A second batch of the same size: the eighth reserved above it must not stay
        // with it.
        for _ in 0..1000 {
            b.push(&[b'y'; 100]).unwrap();
        }
        let second = b.finish_utf8(&DataType::Utf8).unwrap();
        let data = 1000 * 100 + 1001 * 4;
        let held = second.get_array_memory_size();
        assert!(
            held <= data + 2 * 4096 + 256,
            "the batch holds {held} bytes for {data} bytes of data"
        );
        let s = second.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(s.value(999), "y".repeat(100));
    }
}
