//! The page's entry point; Trunk builds it with `data-type="main"`.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(prefab_app::App);
}
