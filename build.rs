//! Rebuilds the binary when the browser client's built bundle changes: `web/dist` is embedded at
//! compile time, and a new file name in it (each build's assets are named by their hash) would
//! otherwise leave a stale list of files in the binary.
fn main() {
    println!("cargo:rerun-if-changed=web/dist");
}
