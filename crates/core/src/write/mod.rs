//! Writers: a [`crate::table::Table`] as bytes, ready to download or upload.
//!
//! [`jsonl::to_jsonl`] writes one JSON object per row; [`parquet::to_parquet`]
//! writes Snappy-compressed Parquet that pyarrow, `datasets` and the Hub's
//! viewer read. Both take the whole table and return the whole file: exports
//! are built in memory in the browser anyway, and the caller decides where the
//! bytes go.

pub mod jsonl;
pub mod parquet;
