//! Reading a file a person brings to import (prompts, completions), off the
//! page's thread: in a worker started for that file alone (the model
//! worker's program, asked to `ReadTable`), with progress, and a cancel
//! that stops it. A file the reader cannot parse is an error naming the
//! file and the line or row; one that crashes the reader (the release
//! build aborts on a panic) takes down only that worker: the page says so
//! and keeps working.

use std::fmt;

use futures::StreamExt;
use prefab_core::prompt_import::SourceTable;
use prefab_llm::protocol::{WorkerRequest, WorkerResponse};
use prefab_llm::ErrorCode;

use crate::model_worker::ModelWorker;

/// Why a file was not read.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadError {
    /// The reader says what is wrong (the message names the file, and the
    /// line or row).
    Unreadable(String),
    /// The file crashed the reader.
    Crashed {
        /// The file's name.
        file: String,
        /// What the browser said of the crash.
        detail: String,
    },
    /// The person cancelled.
    Cancelled {
        /// The file's name.
        file: String,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Unreadable(message) => write!(f, "{message}"),
            ReadError::Crashed { file, detail } => write!(
                f,
                "{file} could not be read: it crashed the file reader ({detail}). The file is damaged or not what its name says; nothing was imported."
            ),
            ReadError::Cancelled { file } => write!(f, "Reading {file} was cancelled; nothing was imported."),
        }
    }
}

/// A file being read; [`FileRead::cancel`] stops it.
#[derive(Clone)]
pub struct FileRead {
    worker: ModelWorker,
}

impl FileRead {
    /// Stops reading: the worker is stopped, and the read ends `Cancelled`.
    pub fn cancel(&self) {
        self.worker.stop();
    }

    /// Whether both handles are of the same read.
    pub fn same(&self, other: &FileRead) -> bool {
        self.worker.same(&other.worker)
    }
}

/// Starts reading `file` in a worker of its own; `progress(done, total)`
/// follows it in bytes. Returns the handle and the read, which ends with
/// the table or why there is none; the worker is stopped either way.
pub fn read_table(
    file: web_sys::File,
    progress: impl Fn(u64, u64) + 'static,
) -> (FileRead, impl std::future::Future<Output = Result<SourceTable, ReadError>>) {
    let worker = ModelWorker::start();
    let name = file.name();
    let (_, mut answers) = worker.send(|id| WorkerRequest::ReadTable { id, name: name.clone() }, Some(file));
    let handle = FileRead { worker: worker.clone() };
    let read = async move {
        let mut outcome = Err(ReadError::Cancelled { file: name.clone() });
        while let Some(answer) = answers.next().await {
            match answer {
                WorkerResponse::Reading { done, total, .. } => progress(done, total),
                WorkerResponse::Table { table, .. } => {
                    outcome = SourceTable::from_transfer(&table).map_err(ReadError::Unreadable);
                    break;
                }
                WorkerResponse::Failed { kind: ErrorCode::WorkerStopped, message, .. } => {
                    outcome = Err(ReadError::Crashed { file: name.clone(), detail: message });
                    break;
                }
                WorkerResponse::Failed { message, .. } => {
                    outcome = Err(ReadError::Unreadable(message));
                    break;
                }
                _ => {}
            }
        }
        // Its memory (the file, the table) goes back now.
        worker.stop();
        outcome
    };
    (handle, read)
}
