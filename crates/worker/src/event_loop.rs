//! Time and turns of the worker's event loop.
//!
//! Generation is a loop of synchronous steps. To read a `Cancel` between two
//! tokens the worker must let its event loop run, and a resolved promise is
//! not enough (that is a microtask; messages are tasks). `setTimeout(0)`
//! would do, but browsers clamp nested timeouts to 4 ms, a fifth of a
//! token's time. A message to oneself through a `MessageChannel` is a task
//! too, and is not clamped.

use std::cell::RefCell;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::MessageChannel;

thread_local! {
    /// One channel for the worker's life, and the waiting turn's resolver.
    static TURNS: (MessageChannel, RefCell<Option<Function>>) = {
        let channel = MessageChannel::new().expect("workers have MessageChannel");
        let on_message = Closure::<dyn FnMut()>::new(|| {
            if let Some(resolve) = TURNS.with(|(_, waiting)| waiting.borrow_mut().take()) {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
        });
        channel.port1().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        (channel, RefCell::new(None))
    };
}

/// Returns after the event loop has run the tasks waiting now (messages
/// from the page among them).
pub async fn next_turn() {
    let turn = Promise::new(&mut |resolve, _| {
        TURNS.with(|(channel, waiting)| {
            *waiting.borrow_mut() = Some(resolve);
            let _ = channel.port2().post_message(&JsValue::NULL);
        });
    });
    let _ = JsFuture::from(turn).await;
}

/// `performance.now()` in seconds: the clock of the generation stats.
pub fn seconds() -> f64 {
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|performance| performance.dyn_into::<web_sys::Performance>().ok());
    performance.map_or(0.0, |performance| performance.now() / 1000.0)
}
