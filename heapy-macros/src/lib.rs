//! The `#[heapy::profile]` attribute: memory_profiler's line-by-line table for a Rust
//! function. Use it through the `heapy` crate, which re-exports it and holds its runtime;
//! the documentation with examples is on `heapy::profile`.
#![deny(missing_docs)]

mod args;
mod instrument;
mod source;

use proc_macro::TokenStream;

/// Instruments each statement of a function and prints memory_profiler's table when it
/// returns. See `heapy::profile` for the options and examples.
#[proc_macro_attribute]
pub fn profile(attr: TokenStream, item: TokenStream) -> TokenStream {
    let call_site = proc_macro2::Span::call_site();
    let attr: proc_macro2::TokenStream = attr.into();
    let attr_text = attr.to_string();
    let opts = match args::parse(attr) {
        Ok(o) => o,
        Err(e) => return e.to_compile_error().into(),
    };
    match instrument::expand(opts, attr_text, call_site, item.into()) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}
