//! Prefab's persistence in the browser: IndexedDB, written durably.
//!
//! Everything a person does in the page — settings, prompts, generations and
//! above all ratings — is written here before the page moves on, so a reload,
//! a closed tab or a crash loses nothing. Writes use `durability: "strict"`:
//! Chromium's default ("relaxed") may report a transaction complete before the
//! data reaches the disk.
//!
//! Values are stored as plain JS objects (JSON-compatible), so they can be
//! read in the browser's devtools and by any future version of the page.

#![deny(missing_docs)]

use serde::de::DeserializeOwned;
use serde::Serialize;
use idb::DatabaseEvent;
use wasm_bindgen::prelude::*;
use web_sys::{IdbDatabase, IdbTransaction, IdbTransactionMode};

#[wasm_bindgen]
extern "C" {
    /// An `IDBDatabase` seen through the one method web-sys only offers behind
    /// its unstable-APIs flag: `transaction(stores, mode, options)`.
    #[wasm_bindgen(js_name = IDBDatabase)]
    type DatabaseWithOptions;

    #[wasm_bindgen(catch, method, js_name = transaction)]
    fn transaction_with_options(
        this: &DatabaseWithOptions,
        stores: &js_sys::Array,
        mode: &str,
        options: &js_sys::Object,
    ) -> Result<IdbTransaction, JsValue>;
}

/// The schema version of the database; raise it with each new object store.
const SCHEMA_VERSION: u32 = 2;

/// The object stores of a Prefab database, each a map from text keys to
/// JSON-compatible values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// Key–value settings of the project (prompts, pool, endpoints, the
    /// rating question).
    Settings,
    /// The model pool's work items by key (`prompt/entry/sample`): pending,
    /// running, done with the generation, or failed with the reason.
    Items,
    /// People's ratings by rating id.
    Ratings,
}

impl Collection {
    /// Every store, in the order they were added to the schema.
    pub const ALL: [Collection; 3] = [Collection::Settings, Collection::Items, Collection::Ratings];

    /// The object store's name.
    pub fn name(self) -> &'static str {
        match self {
            Collection::Settings => "settings",
            Collection::Items => "items",
            Collection::Ratings => "ratings",
        }
    }
}

/// What can go wrong with the browser's storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// IndexedDB is missing or refused to open (private windows of some browsers).
    #[error("the browser's storage (IndexedDB) could not be opened: {0}")]
    Unavailable(String),
    /// A read or a write failed (the disk is full, the quota is reached).
    #[error("the browser's storage failed to {action}: {message}")]
    Failed {
        /// What was being done.
        action: String,
        /// What the browser said.
        message: String,
    },
    /// The browser refused a write because this page's storage is full
    /// (`QuotaExceededError`); what was stored before is untouched.
    #[error("the browser's storage for this page is full, so it could not {action}")]
    Full {
        /// What was being done.
        action: String,
    },
    /// A stored value is not of the shape this version of the page expects.
    #[error("the stored value {key:?} could not be read: {message}")]
    Unreadable {
        /// Its key.
        key: String,
        /// What did not fit.
        message: String,
    },
}

/// An open Prefab database.
pub struct Store {
    // The raw handle: idb cannot open a transaction with durability options.
    database: IdbDatabase,
}

impl Store {
    /// Opens (and creates or upgrades) the database of this name.
    pub async fn open(name: &str) -> Result<Store, StoreError> {
        let unavailable = |error: idb::Error| StoreError::Unavailable(error.to_string());
        let factory = idb::Factory::new().map_err(unavailable)?;
        let mut request = factory.open(name, Some(SCHEMA_VERSION)).map_err(unavailable)?;
        request.on_upgrade_needed(|event| {
            // Creating a store that exists would throw; upgrades add what is missing.
            let Ok(database) = event.database() else { return };
            let existing = database.store_names();
            for collection in Collection::ALL {
                if !existing.iter().any(|store| store == collection.name()) {
                    let _ = database.create_object_store(collection.name(), idb::ObjectStoreParams::new());
                }
            }
        });
        let database = request.await.map_err(unavailable)?;
        Ok(Store { database: database.into() })
    }

    /// Writes a setting, returning once the write is durably complete.
    pub async fn put_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        self.put(Collection::Settings, key, value).await
    }

    /// Reads a setting; `None` if it was never written.
    pub async fn setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        self.get(Collection::Settings, key).await
    }

    /// Writes one value, returning once the write is durably complete.
    pub async fn put<T: Serialize>(&self, collection: Collection, key: &str, value: &T) -> Result<(), StoreError> {
        self.put_all(collection, std::iter::once((key, value))).await
    }

    /// Writes many values in one transaction: all are kept or none.
    pub async fn put_all<'k, T: Serialize + 'k>(
        &self,
        collection: Collection,
        entries: impl IntoIterator<Item = (&'k str, &'k T)>,
    ) -> Result<(), StoreError> {
        let action = format!("save into {}", collection.name());
        let failed = |error: idb::Error| StoreError::Failed { action: action.clone(), message: error.to_string() };
        let raw = self.strict_write(&[collection.name()]).map_err(failed)?;
        let transaction = idb::Transaction::from(raw.clone());
        let store = transaction.object_store(collection.name()).map_err(failed)?;
        for (key, value) in entries {
            let value = to_js(key, value)?;
            // Requests of one transaction run in order; only the commit is awaited.
            let _ = store.put(&value, Some(&JsValue::from_str(key))).map_err(failed)?;
        }
        finish(transaction, &raw, &action).await
    }

    /// Deletes one value (nothing happens if it is absent), returning once
    /// the deletion is durably complete.
    pub async fn delete(&self, collection: Collection, key: &str) -> Result<(), StoreError> {
        let action = format!("delete {key:?} from {}", collection.name());
        let failed = |error: idb::Error| StoreError::Failed { action: action.clone(), message: error.to_string() };
        let raw = self.strict_write(&[collection.name()]).map_err(failed)?;
        let transaction = idb::Transaction::from(raw.clone());
        let store = transaction.object_store(collection.name()).map_err(failed)?;
        let _ = store.delete(JsValue::from_str(key)).map_err(failed)?;
        finish(transaction, &raw, &action).await
    }

    /// Reads one value; `None` if it was never written.
    pub async fn get<T: DeserializeOwned>(&self, collection: Collection, key: &str) -> Result<Option<T>, StoreError> {
        let failed = |error: idb::Error| StoreError::Failed { action: format!("read {key:?}"), message: error.to_string() };
        let transaction = self.read(collection).map_err(failed)?;
        let store = transaction.object_store(collection.name()).map_err(failed)?;
        let Some(value) = store.get(JsValue::from_str(key)).map_err(failed)?.await.map_err(failed)? else {
            return Ok(None);
        };
        from_js(key, value).map(Some)
    }

    /// Every key and value of a collection, in key order.
    pub async fn get_all<T: DeserializeOwned>(&self, collection: Collection) -> Result<Vec<(String, T)>, StoreError> {
        let action = format!("read {}", collection.name());
        let failed = |error: idb::Error| StoreError::Failed { action: action.clone(), message: error.to_string() };
        let transaction = self.read(collection).map_err(failed)?;
        let store = transaction.object_store(collection.name()).map_err(failed)?;
        let keys = store.get_all_keys(None, None).map_err(failed)?.await.map_err(failed)?;
        let values = store.get_all(None, None).map_err(failed)?.await.map_err(failed)?;
        keys.into_iter()
            .zip(values)
            .map(|(key, value)| {
                let key = key.as_string().unwrap_or_default();
                let value = from_js(&key, value)?;
                Ok((key, value))
            })
            .collect()
    }

    /// How many values a collection holds.
    pub async fn count(&self, collection: Collection) -> Result<u32, StoreError> {
        let failed = |error: idb::Error| StoreError::Failed { action: format!("count {}", collection.name()), message: error.to_string() };
        let transaction = self.read(collection).map_err(failed)?;
        let store = transaction.object_store(collection.name()).map_err(failed)?;
        store.count(None).map_err(failed)?.await.map_err(failed)
    }

    fn read(&self, collection: Collection) -> Result<idb::Transaction, idb::Error> {
        self.database
            .transaction_with_str_and_mode(collection.name(), IdbTransactionMode::Readonly)
            .map(idb::Transaction::from)
            .map_err(idb::Error::TransactionOpenFailed)
    }

    /// A read-write transaction whose completion means the data is on disk.
    fn strict_write(&self, stores: &[&str]) -> Result<IdbTransaction, idb::Error> {
        let names: js_sys::Array = stores.iter().map(|name| JsValue::from_str(name)).collect();
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"durability".into(), &"strict".into()).map_err(idb::Error::TransactionOpenFailed)?;
        self.database
            .unchecked_ref::<DatabaseWithOptions>()
            .transaction_with_options(&names, "readwrite", &options)
            .map_err(idb::Error::TransactionOpenFailed)
    }

    /// Closes the connection once its transactions are done.
    pub fn close(self) {
        self.database.close();
    }
}

fn to_js<T: Serialize>(key: &str, value: &T) -> Result<JsValue, StoreError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|error| StoreError::Unreadable { key: key.to_owned(), message: error.to_string() })
}

fn from_js<T: DeserializeOwned>(key: &str, value: JsValue) -> Result<T, StoreError> {
    serde_wasm_bindgen::from_value(value)
        .map_err(|error| StoreError::Unreadable { key: key.to_owned(), message: error.to_string() })
}

/// Commits and waits for `complete` (on disk, with strict durability).
/// `raw` is the same transaction, for the reason of an abort.
async fn finish(transaction: idb::Transaction, raw: &IdbTransaction, action: &str) -> Result<(), StoreError> {
    let failed = |error: idb::Error| abort_reason(raw, action).unwrap_or_else(|| StoreError::Failed { action: action.to_owned(), message: error.to_string() });
    match transaction.commit().map_err(failed)?.await.map_err(failed)? {
        idb::TransactionResult::Committed => Ok(()),
        idb::TransactionResult::Aborted => Err(abort_reason(raw, action)
            .unwrap_or_else(|| StoreError::Failed { action: action.to_owned(), message: "the transaction was aborted".to_owned() })),
    }
}

/// Why the browser aborted a transaction, when it says: a full disk is
/// [`StoreError::Full`], anything else its own name and message.
fn abort_reason(raw: &IdbTransaction, action: &str) -> Option<StoreError> {
    let error = raw.error()?;
    Some(match error.name().as_str() {
        "QuotaExceededError" => StoreError::Full { action: action.to_owned() },
        name => StoreError::Failed { action: action.to_owned(), message: format!("{name}: {}", error.message()) },
    })
}
