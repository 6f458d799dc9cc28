//! Rewrites the function: a profiler guard first, then a call after each statement.
//!
//! * Every statement of the body, and of the blocks of loops, `if`/`else`, `match` arms,
//!   plain and `unsafe` blocks at statement level, is followed by `__heapy_profile.after(L)`
//!   where `L` is the line the statement starts on.
//! * A loop body starts with `after(header line)`, and the loop is followed by one more: so
//!   the header counts one occurrence per iteration plus the final test, as in Python.
//! * `return e;` at statement level and the function's tail expression become
//!   `let v = e; after(L); return v` (the value is computed, then the line is recorded).
//! * Closures and nested items are left alone: they run as part of the statement holding
//!   them.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Block, Expr, ItemFn, Stmt};

use crate::args::{Options, Stream};
use crate::source;

/// The start line of `node` (its first token).
fn line_of(node: &impl Spanned) -> usize {
    node.span().start().line
}

fn after(line: usize) -> Stmt {
    let line = line as u32;
    syn::parse_quote! { __heapy_profile.after(#line); }
}

/// Instruments the statements of `block`; `top` marks the function's own block (whose tail
/// expression is wrapped).
fn block(b: &mut Block, top: bool) {
    let stmts = std::mem::take(&mut b.stmts);
    let n = stmts.len();
    for (i, mut stmt) in stmts.into_iter().enumerate() {
        let line = line_of(&stmt);
        let last = i + 1 == n;
        match &mut stmt {
            Stmt::Expr(Expr::Return(ret), Some(_)) => {
                let value = ret.expr.take();
                let span = stmt.span();
                let value = value.map_or_else(|| quote!(()), |e| quote!(#e));
                let line = line as u32;
                b.stmts.push(syn::parse_quote_spanned! { span=>
                    {
                        let __heapy_return = #value;
                        __heapy_profile.after(#line);
                        return __heapy_return;
                    }
                });
                continue;
            }
            Stmt::Expr(e, semi) => {
                compound(e, line);
                if semi.is_none() && last && top && !is_compound(e) {
                    let e = e.clone();
                    let line = line as u32;
                    let span = e.span();
                    b.stmts.push(syn::parse_quote_spanned! { span=>
                        let __heapy_tail = #e;
                    });
                    b.stmts
                        .push(syn::parse_quote! { __heapy_profile.after(#line); });
                    b.stmts
                        .push(Stmt::Expr(syn::parse_quote!(__heapy_tail), None));
                    continue;
                }
                if semi.is_none() && last {
                    // A value-producing compound tail (`if`/`match`/...): its inner
                    // statements are recorded; the value itself is left where it is.
                    b.stmts.push(stmt);
                    continue;
                }
            }
            Stmt::Macro(m) if m.semi_token.is_none() && last => {
                if top {
                    let mac = m.mac.clone();
                    let line = line as u32;
                    b.stmts.push(syn::parse_quote! { let __heapy_tail = #mac; });
                    b.stmts
                        .push(syn::parse_quote! { __heapy_profile.after(#line); });
                    b.stmts
                        .push(Stmt::Expr(syn::parse_quote!(__heapy_tail), None));
                } else {
                    b.stmts.push(stmt);
                }
                continue;
            }
            Stmt::Item(_) => {
                b.stmts.push(stmt);
                continue;
            }
            Stmt::Local(_) | Stmt::Macro(_) => {}
        }
        b.stmts.push(stmt);
        b.stmts.push(after(line));
    }
}

fn is_compound(e: &Expr) -> bool {
    matches!(
        e,
        Expr::ForLoop(_)
            | Expr::While(_)
            | Expr::Loop(_)
            | Expr::If(_)
            | Expr::Match(_)
            | Expr::Block(_)
            | Expr::Unsafe(_)
    )
}

/// Instruments the blocks inside a statement-level compound expression.
fn compound(e: &mut Expr, line: usize) {
    match e {
        Expr::ForLoop(f) => loop_body(&mut f.body, line),
        Expr::While(w) => loop_body(&mut w.body, line),
        Expr::Loop(l) => loop_body(&mut l.body, line),
        Expr::If(i) => if_chain(i),
        Expr::Match(m) => {
            for arm in &mut m.arms {
                if let Expr::Block(b) = &mut *arm.body {
                    block(&mut b.block, false);
                }
            }
        }
        Expr::Block(b) => block(&mut b.block, false),
        Expr::Unsafe(u) => block(&mut u.block, false),
        _ => {}
    }
}

fn loop_body(body: &mut Block, header: usize) {
    block(body, false);
    body.stmts.insert(0, after(header));
}

fn if_chain(i: &mut syn::ExprIf) {
    block(&mut i.then_branch, false);
    if let Some((_, else_branch)) = &mut i.else_branch {
        match &mut **else_branch {
            Expr::If(inner) => if_chain(inner),
            Expr::Block(b) => block(&mut b.block, false),
            _ => {}
        }
    }
}

/// Expands `#[heapy::profile(opts)] item`.
pub(crate) fn expand(
    opts: Options,
    attr_text: String,
    call_site: Span,
    item: TokenStream,
) -> syn::Result<TokenStream> {
    let mut f: ItemFn = syn::parse2(item.clone()).map_err(|e| {
        syn::Error::new(e.span(), "#[heapy::profile] goes on a function with a body")
    })?;
    if f.sig.constness.is_some() {
        return Err(syn::Error::new(
            f.sig.constness.span(),
            "#[heapy::profile] cannot profile a const fn",
        ));
    }
    if opts.thread {
        if let Some(a) = f.sig.asyncness {
            return Err(syn::Error::new(
                a.span(),
                "#[heapy::profile(thread)] cannot profile an async fn: its future may resume \
                 on another thread, and the figures would then count that thread's \
                 allocations, not this function's; drop `thread` (the figures are then the \
                 process's live heap)",
            ));
        }
    }
    let attr_line = call_site.start().line;
    let fn_line = line_of(&f.sig.fn_token);
    let last_line = f.block.brace_token.span.close().start().line;
    if attr_line == 0 || fn_line == 0 {
        return Err(syn::Error::new(
            call_site,
            "#[heapy::profile] needs Rust 1.88 or later (line numbers of proc-macro spans)",
        ));
    }
    let first_line = attr_line.min(fn_line);
    let name = f.sig.ident.to_string();
    let mut lines = source::lines(
        f.sig.fn_token.span,
        &item,
        (first_line, last_line),
        (fn_line, &name),
    );
    if lines[attr_line - first_line].trim().is_empty() {
        lines[attr_line - first_line] = if attr_text.is_empty() {
            "#[heapy::profile]".to_owned()
        } else {
            format!("#[heapy::profile({attr_text})]")
        };
    }
    let file = f.sig.fn_token.span.file();

    block(&mut f.block, true);

    let precision = opts.precision;
    let thread = opts.thread;
    let stream = match &opts.stream {
        Stream::Stderr => quote!(::heapy::__private::Stream::Stderr),
        Stream::Stdout => quote!(::heapy::__private::Stream::Stdout),
        Stream::File(p) => quote!(::heapy::__private::Stream::File(#p)),
        Stream::Quiet => quote!(::heapy::__private::Stream::None),
    };
    let first = first_line as u32;
    let attr = attr_line as u32;
    let stmts = &f.block.stmts;
    let body = quote_spanned! { call_site=>
        static __HEAPY_PROFILE_FN: ::heapy::__private::FnInfo = ::heapy::__private::FnInfo {
            name: ::core::concat!(::core::module_path!(), "::", #name),
            file: #file,
            first_line: #first,
            attr_line: #attr,
            lines: &[#(#lines),*],
            precision: #precision as usize,
            stream: #stream,
            thread: #thread,
        };
        let __heapy_profile = ::heapy::__private::Profiler::enter(&__HEAPY_PROFILE_FN);
        #(#stmts)*
    };
    *f.block = syn::parse2(quote!({ #body }))?;
    Ok(quote!(#f))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error `#[heapy::profile(opts)]` gives on `item`, if any.
    fn error_of(opts: &str, item: &str) -> Option<String> {
        let opts = crate::args::parse(opts.parse().unwrap()).unwrap();
        expand(
            opts,
            String::new(),
            Span::call_site(),
            item.parse().unwrap(),
        )
        .err()
        .map(|e| e.to_string())
    }

    #[test]
    fn thread_mode_refuses_an_async_fn() {
        let e = error_of("thread", "async fn load() -> usize { vec![0u8; 10].len() }");
        assert_eq!(
            e.as_deref(),
            Some(
                "#[heapy::profile(thread)] cannot profile an async fn: its future may resume \
                 on another thread, and the figures would then count that thread's \
                 allocations, not this function's; drop `thread` (the figures are then the \
                 process's live heap)"
            )
        );
        // Without `thread`, the figures are the process's, wherever the future runs.
        assert_eq!(
            error_of("", "async fn load() -> usize { vec![0u8; 10].len() }"),
            None
        );
        assert_eq!(
            error_of("thread", "fn load() -> usize { vec![0u8; 10].len() }"),
            None
        );
    }
}
