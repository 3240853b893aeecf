//! The page's clock, and waiting without blocking the page.


use wasm_bindgen_futures::JsFuture;

/// Resolves after `milliseconds`.
pub async fn sleep_ms(milliseconds: i32) {
    let done = js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window()
            .expect("the page has a window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, milliseconds);
    });
    let _ = JsFuture::from(done).await;
}

/// Resolves after the browser has painted the next frame: two animation
/// frames, as the first runs just before the paint.
pub async fn after_paint() {
    for _ in 0..2 {
        let frame = js_sys::Promise::new(&mut |resolve, _| {
            let _ = web_sys::window().expect("the page has a window").request_animation_frame(&resolve);
        });
        let _ = JsFuture::from(frame).await;
    }
}


/// `performance.now()`: milliseconds on the page's monotonic clock.
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|window| window.performance()).map_or(0.0, |performance| performance.now())
}
