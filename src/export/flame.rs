//! Heap flame graphs (SVG) with inferno.

use std::path::Path;

use inferno::flamegraph::{self, color::BasicPalette, Options, Palette};

use crate::census::guard;
use crate::heap::Heap;
use crate::sys::atomic;
use crate::{Error, Result};

/// Draws folded stacks (`frame;frame;frame count` lines, as [`Heap::folded`] writes them)
/// as a flame graph SVG: one box per frame, as wide as the bytes below it. `title` heads
/// the picture. The file is written atomically (a failure leaves any old file whole).
///
/// ```
/// # #[global_allocator]
/// # static CENSUS: heapy::Census = heapy::Census::new();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("heap.svg");
/// heapy::flamegraph("main;load;Vec<Person> 4096\nmain;cache 1024\n", "Live heap", &path).unwrap();
/// let svg = std::fs::read_to_string(&path).unwrap();
/// assert!(svg.contains("Vec&lt;Person&gt;") && svg.contains("Live heap"));
/// // Text that is not folded stacks is refused.
/// assert!(heapy::flamegraph("not folded\n", "x", &path).is_err());
/// ```
#[doc(alias("flame_graph"))]
pub fn flamegraph(folded: &str, title: &str, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let svg = guard::internal(|| svg(folded, title, path))?;
    guard::internal(|| atomic::write(path, &svg))
}

/// Renders the SVG (`path` only names errors).
fn svg(folded: &str, title: &str, path: &Path) -> Result<Vec<u8>> {
    let mut total: u64 = 0;
    for (i, line) in folded.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let count = line
            .rsplit_once(' ')
            .and_then(|(_, c)| c.parse::<u64>().ok());
        let Some(count) = count else {
            return Err(Error::Format {
                path: path.to_path_buf(),
                problem: format!(
                    "line {} of the folded stacks does not end with a byte count: {line:?}",
                    i + 1
                ),
            });
        };
        // inferno adds the counts up in a u64.
        total = total.checked_add(count).ok_or_else(|| Error::Format {
            path: path.to_path_buf(),
            problem: format!(
                "the byte counts add up to more than {} (at line {})",
                u64::MAX,
                i + 1
            ),
        })?;
    }
    let mut opt = Options::default();
    opt.title = title.to_owned();
    opt.count_name = "bytes".to_owned();
    opt.name_type = "Frame:".to_owned();
    opt.colors = Palette::Basic(BasicPalette::Mem);
    opt.deterministic = true;
    if folded.trim().is_empty() {
        // inferno refuses an empty profile; an empty heap is a valid answer.
        return Ok(empty_svg(title).into_bytes());
    }
    let mut out = Vec::new();
    flamegraph::from_lines(&mut opt, folded.lines(), &mut out).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(out)
}

/// The picture of an empty heap: the title and a line saying so.
fn empty_svg(title: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    format!(
        "<?xml version=\"1.0\" standalone=\"no\"?>\n\
         <svg version=\"1.1\" width=\"1200\" height=\"80\" xmlns=\"http://www.w3.org/2000/svg\">\n\
         <rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#eeeeee\"/>\n\
         <text x=\"600\" y=\"24\" font-size=\"17\" font-family=\"Verdana\" text-anchor=\"middle\">{}</text>\n\
         <text x=\"600\" y=\"54\" font-size=\"12\" font-family=\"Verdana\" text-anchor=\"middle\">the heap holds no objects</text>\n\
         </svg>\n",
        esc(title)
    )
}

impl Heap {
    /// Writes a flame graph of the live bytes by allocation stack ([`Heap::folded`]) to
    /// `path` as SVG (inferno): the width of each frame is the bytes allocated below it and
    /// still live. The title gives the object count and total size.
    ///
    /// ```
    /// #[global_allocator]
    /// static CENSUS: heapy::Census = heapy::Census::new();
    ///
    /// let mark = heapy::hpy().mark();
    /// let v = heapy::with_kind("Blob", || vec![0u8; 4096]);
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("heap.svg");
    /// mark.heap().flamegraph(&path).unwrap();
    /// let svg = std::fs::read_to_string(&path).unwrap();
    /// assert!(svg.contains("<title>Blob (4,096 bytes, "));
    /// # drop(v);
    /// ```
    #[doc(alias("flame_graph"))]
    pub fn flamegraph(&self, path: impl AsRef<Path>) -> Result<()> {
        // heapy's own text, made under the guard (the program's figures never see it).
        let title = guard::internal(|| {
            format!(
                "Live heap: {} objects, {} bytes{}",
                self.count(),
                self.size(),
                if self.meta().sample_rate.is_some() {
                    " (estimated from samples)"
                } else {
                    ""
                }
            )
        });
        flamegraph(&self.folded(), &title, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::test_support::sample_heap;

    #[test]
    fn svg_has_frames_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heap.svg");
        sample_heap().flamegraph(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains("Live heap: 5 objects, 1136 bytes"));
        // One box per frame, titled with its bytes and share.
        for title in [
            "demo::main (1,128 bytes, 99.30%)",
            "demo::load (128 bytes, 11.27%)",
            "Vec&lt;demo::Person&gt; (128 bytes, 11.27%)",
            "demo::cache (1,000 bytes, 88.03%)",
            "[u8, 4] (8 bytes, 0.70%)",
            "all (1,136 bytes, 100%)",
        ] {
            assert!(
                svg.contains(&format!("<title>{title}</title>")),
                "{title} missing"
            );
        }
    }

    #[test]
    fn bad_folded_text_is_refused_and_old_file_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heap.svg");
        std::fs::write(&path, "old").unwrap();
        let err = flamegraph("a;b 10\na;c ten\n", "t", &path).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    }

    #[test]
    fn empty_heap_draws() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.svg");
        sample_heap().filter(|_| false).flamegraph(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("the heap holds no objects"));
    }
}
