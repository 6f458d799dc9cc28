//! The attribute's options: `precision = N`, `stream = stderr | stdout | "path"`, `thread`.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::{Ident, LitInt, LitStr};

/// Where the table goes when the function returns.
pub(crate) enum Stream {
    Stderr,
    Stdout,
    /// Appended to this file.
    File(LitStr),
    /// Not printed (kept for `LineProfile::last` and FUNC brackets only).
    Quiet,
}

/// What `#[heapy::profile(...)]` asked for.
pub(crate) struct Options {
    pub precision: u32,
    pub stream: Stream,
    pub thread: bool,
}

/// Parses the attribute's arguments.
pub(crate) fn parse(attr: TokenStream) -> syn::Result<Options> {
    let mut opts = Options {
        precision: 1,
        stream: Stream::Stderr,
        thread: false,
    };
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("precision") {
            let lit: LitInt = meta.value()?.parse()?;
            let p: u32 = lit.base10_parse()?;
            if p > 12 {
                return Err(syn::Error::new(lit.span(), "precision must be 0 to 12"));
            }
            opts.precision = p;
            Ok(())
        } else if meta.path.is_ident("stream") {
            let value = meta.value()?;
            if value.peek(LitStr) {
                opts.stream = Stream::File(value.parse()?);
                return Ok(());
            }
            let id: Ident = value.parse()?;
            opts.stream = match id.to_string().as_str() {
                "stderr" => Stream::Stderr,
                "stdout" => Stream::Stdout,
                "none" => Stream::Quiet,
                _ => {
                    return Err(syn::Error::new(
                        id.span(),
                        "stream must be stderr, stdout, none or a file path in quotes",
                    ))
                }
            };
            Ok(())
        } else if meta.path.is_ident("thread") {
            opts.thread = true;
            Ok(())
        } else {
            Err(meta.error(
                "unknown option of #[heapy::profile]: expected precision = N, \
                 stream = stderr|stdout|none|\"path\", or thread",
            ))
        }
    });
    parser.parse2(attr)?;
    Ok(opts)
}
