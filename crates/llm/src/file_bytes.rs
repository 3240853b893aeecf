//! A model file read a range at a time.
//!
//! The engine reads a GGUF file's header, then each tensor, once, in
//! turn, and keeps only the weights it builds from them. When the file's
//! bytes are all in memory (tests, natively), a range is a borrowed slice.
//! In the browser the file stays where the browser keeps it — the cache on
//! disk, or the file the person picked — and each range is read from there
//! (`model_file::BlobBytes`), so a load never holds the whole file next to
//! the weights it is turned into.

use std::borrow::Cow;
use std::io::{Read, Seek, SeekFrom};

use crate::error::Error;

/// A model file's bytes, read a range at a time.
pub trait FileBytes {
    /// The file's size in bytes.
    fn size(&self) -> u64;

    /// The `len` bytes from `offset`, which the caller has checked lie
    /// inside the file.
    fn read(&self, offset: u64, len: usize) -> Result<Cow<'_, [u8]>, Error>;
}

impl FileBytes for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read(&self, offset: u64, len: usize) -> Result<Cow<'_, [u8]>, Error> {
        let start = offset as usize;
        Ok(Cow::Borrowed(&self[start..start + len]))
    }
}

impl FileBytes for Vec<u8> {
    fn size(&self) -> u64 {
        self.as_slice().size()
    }

    fn read(&self, offset: u64, len: usize) -> Result<Cow<'_, [u8]>, Error> {
        self.as_slice().read(offset, len)
    }
}

impl<F: FileBytes + ?Sized> FileBytes for &F {
    fn size(&self) -> u64 {
        (**self).size()
    }

    fn read(&self, offset: u64, len: usize) -> Result<Cow<'_, [u8]>, Error> {
        (**self).read(offset, len)
    }
}

/// [`Read`] and [`Seek`] over a [`FileBytes`], a window at a time: for
/// parsers that read a header field by field.
pub struct FileReader<'a> {
    file: &'a dyn FileBytes,
    position: u64,
    window: Vec<u8>,
    window_start: u64,
    /// The error behind the last failed read: `io::Error` carries only text.
    pub failure: Option<Error>,
}

/// How much a [`FileReader`] reads at once.
const WINDOW_BYTES: usize = 1 << 20;

impl<'a> FileReader<'a> {
    /// A reader at the start of `file`.
    pub fn new(file: &'a dyn FileBytes) -> FileReader<'a> {
        FileReader { file, position: 0, window: Vec::new(), window_start: 0, failure: None }
    }
}

impl Read for FileReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let in_window = self.position.checked_sub(self.window_start).filter(|&at| at < self.window.len() as u64);
        let at = match in_window {
            Some(at) => at as usize,
            None => {
                let size = self.file.size();
                if self.position >= size {
                    return Ok(0);
                }
                let len = (size - self.position).min(WINDOW_BYTES as u64) as usize;
                match self.file.read(self.position, len) {
                    Ok(bytes) => self.window = bytes.into_owned(),
                    Err(error) => {
                        let message = error.to_string();
                        self.failure = Some(error);
                        return Err(std::io::Error::other(message));
                    }
                }
                self.window_start = self.position;
                0
            }
        };
        let count = out.len().min(self.window.len() - at);
        out[..count].copy_from_slice(&self.window[at..at + count]);
        self.position += count as u64;
        Ok(count)
    }
}

impl Seek for FileReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
            SeekFrom::End(delta) => self.file.size().checked_add_signed(delta),
        };
        self.position = target.ok_or_else(|| std::io::Error::other("a seek before the start of the file"))?;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_reads_across_windows_and_seeks() {
        let bytes: Vec<u8> = (0..3 * WINDOW_BYTES + 5).map(|i| (i % 251) as u8).collect();
        let mut reader = FileReader::new(&bytes);
        let mut all = Vec::new();
        reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, bytes);

        reader.seek(SeekFrom::Start(WINDOW_BYTES as u64 - 2)).unwrap();
        let mut four = [0; 4];
        reader.read_exact(&mut four).unwrap();
        assert_eq!(four[..], bytes[WINDOW_BYTES - 2..WINDOW_BYTES + 2]);
        assert_eq!(reader.seek(SeekFrom::Current(-4)).unwrap(), WINDOW_BYTES as u64 - 2);
        assert_eq!(reader.seek(SeekFrom::End(-1)).unwrap(), bytes.len() as u64 - 1);
        assert!(reader.seek(SeekFrom::Current(-(bytes.len() as i64))).is_err());
    }
}
