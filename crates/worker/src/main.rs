//! The model worker's entry point; Trunk builds it with `data-type="worker"`.

fn main() {
    prefab_worker::run();
}
