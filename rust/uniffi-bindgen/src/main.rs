//! `uniffi-bindgen generate --library <libpocketlm_ffi.so> --language kotlin|swift --out-dir DIR`
//! (see scripts/gen-bindings.sh).

fn main() {
    uniffi::uniffi_bindgen_main()
}
