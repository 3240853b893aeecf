//! Several tabs of the page, one project (one IndexedDB).
//!
//! - One tab at a time runs a stage ([`try_lock`]): running the pool twice
//!   would generate every item twice, each tab overwriting the other's
//!   results. A Web Lock is held while the run goes on and let go when it
//!   ends, or when the tab closes or crashes. web-sys offers `LockManager`
//!   only behind its unstable-APIs flag, so `navigator.locks.request` is
//!   called through `Reflect`.
//! - Each tab sees the ratings the others store ([`announce_rating`],
//!   [`listen_for_ratings`]): a BroadcastChannel names the rating, the tab
//!   reads it from IndexedDB, and its rating session is built again, so two
//!   tabs rating at once never ask for the same answer twice. Each rating is
//!   its own key, written durably, so none is lost either way.

use futures::channel::oneshot;
use std::cell::RefCell;
use std::rc::Rc;
use leptos::prelude::Update;
use wasm_bindgen::prelude::*;

/// What asking for a lock gave.
pub enum TabLock {
    /// This tab holds it until the value is dropped.
    Held(Held),
    /// Another tab holds it.
    Busy,
    /// The browser has no Web Locks (a page over plain http on a LAN
    /// address): the work goes on unguarded.
    Unsupported,
}

/// A held lock; dropping it lets it go.
pub struct Held {
    release: js_sys::Function,
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::NULL);
    }
}

/// Takes the lock `name` if no other tab of this page holds it; never waits for it.
pub async fn try_lock(name: &str) -> TabLock {
    let Some(locks) = crate::offline::navigator_api("locks") else {
        return TabLock::Unsupported;
    };
    let Ok(request) = js_sys::Reflect::get(&locks, &"request".into()).and_then(JsCast::dyn_into::<js_sys::Function>) else {
        return TabLock::Unsupported;
    };
    let (sender, receiver) = oneshot::channel::<Option<js_sys::Function>>();
    let sender = Rc::new(RefCell::new(Some(sender)));
    // Called with the lock, or with null when another tab holds it; the
    // lock is held until the promise it returns settles.
    let granted = Closure::once_into_js(move |lock: JsValue| -> js_sys::Promise {
        let send = |release| sender.borrow_mut().take().map(|sender| sender.send(release));
        if lock.is_null() {
            send(None);
            return js_sys::Promise::resolve(&JsValue::UNDEFINED);
        }
        let mut release = None;
        let held = js_sys::Promise::new(&mut |resolve, _| release = Some(resolve));
        send(release);
        held
    });
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
    if request.call3(&locks, &name.into(), &options, &granted).is_err() {
        return TabLock::Unsupported;
    }
    match receiver.await {
        Ok(Some(release)) => TabLock::Held(Held { release }),
        Ok(None) => TabLock::Busy,
        Err(_) => TabLock::Unsupported,
    }
}

/// The channel the page's tabs tell each other of ratings on.
const RATINGS_CHANNEL: &str = "prefab-ratings";

thread_local! {
    /// This tab's end of the channel, opened on first use.
    static CHANNEL: Option<web_sys::BroadcastChannel> = web_sys::BroadcastChannel::new(RATINGS_CHANNEL).ok();
}

/// Tells the page's other tabs that the rating `id` was stored or deleted.
/// Only the id travels: they read the rating from IndexedDB.
pub fn announce_rating(id: &str) {
    CHANNEL.with(|channel| {
        if let Some(channel) = channel {
            let _ = channel.post_message(&id.into());
        }
    });
}

/// Keeps `project`'s ratings in step with what the page's other tabs store.
pub fn listen_for_ratings(project: crate::project::Project) {
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
        let Some(id) = event.data().as_string() else { return };
        leptos::task::spawn_local(async move {
            // A rating this tab cannot read now is read with the rest at the next load.
            let Ok(stored) = crate::project::stored_rating(&id).await else { return };
            project.ratings.update(|ratings| drop(match stored {
                Some(rating) => ratings.insert(id, rating),
                None => ratings.remove(&id),
            }));
            project.ratings_from_other_tabs.update(|count| *count += 1);
        });
    });
    CHANNEL.with(|channel| {
        if let Some(channel) = channel {
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        }
    });
    // It listens as long as the page lives.
    on_message.forget();
}
