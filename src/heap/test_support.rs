//! Test support for the heap layer and the layers above it: heaps built by hand, with the
//! names a loaded or stack-resolved snapshot would hold.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Description, Heap, Meta, Obj};
use crate::stack::Frame;

fn frame(function: &str, line: u32) -> Frame {
    Frame::new(function.into(), Some("src/main.rs".into()), Some(line))
}

/// A heap as a loaded or stack-resolved snapshot would hold it: three contexts, two with
/// stacks (most recent call first), one without.
pub(crate) fn sample_heap() -> Heap {
    let mut kinds = HashMap::new();
    kinds.insert(
        1 << 23,
        Arc::new(Description {
            kind: "Vec<demo::Person>".into(),
            site: Some("src/main.rs:20 demo::load".into()),
            site_full: Some("src/main.rs:20 demo::load".into()),
            frames: vec![frame("demo::load", 20), frame("demo::main", 5)].into(),
            merged_call: false,
        }),
    );
    kinds.insert(
        (1 << 23) + 1,
        Arc::new(Description {
            kind: "demo::cache".into(),
            site: Some("src/main.rs:31 demo::cache".into()),
            site_full: Some("src/main.rs:31 demo::cache".into()),
            frames: vec![frame("demo::cache", 31), frame("demo::main", 6)].into(),
            merged_call: false,
        }),
    );
    kinds.insert(2, Arc::new(Description::named("[u8; 4]")));
    let meta = Meta {
        kinds,
        threads: HashMap::from([(1, "main".to_string())]),
        sample_rate: None,
    };
    let obj = |serial, size, ctx| Obj {
        addr: 0x1000 + serial as usize * 64,
        size,
        serial,
        thread: 1,
        ctx,
    };
    let objs = vec![
        obj(1, 96, 1 << 23),
        obj(2, 32, 1 << 23),
        obj(3, 1000, (1 << 23) + 1),
        obj(4, 4, 2),
        obj(5, 4, 2),
    ];
    Heap::from_parts(objs, Arc::new(meta))
}

/// A view from above the heap layer, as the graph's are made: objects of 64 bytes or more
/// are `big`, the others `small`.
pub(crate) static BIGNESS: super::Outside = super::Outside {
    name: "bigness",
    header: "Bigness",
    apply: by_bigness,
};

/// `h` under [`BIGNESS`].
pub(crate) fn by_bigness(h: &Heap) -> Heap {
    let keys = h.objs().iter().map(|o| u32::from(o.size < 64)).collect();
    h.classified(&BIGNESS, keys, vec!["big".into(), "small".into()])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table by kind says how many objects were named after their function because their
    /// allocation call was merged (a first user frame with a file and no line); other
    /// tables, and heaps without such objects, say nothing.
    #[test]
    fn a_table_by_kind_tells_of_merged_allocation_calls() {
        // No merged call: no note.
        let plain = sample_heap();
        assert!(!plain.to_string().contains("merged"));
        let function = "<serde_json::de::MapKey<R> as serde::Deserializer>::deserialize_any";
        let merged_frame = Frame::new(
            function.into(),
            Some("library/core/src/intrinsics/mod.rs".into()),
            None,
        );
        let mut meta = (*plain.meta).clone();
        meta.kinds.insert(
            (1 << 23) + 2,
            Arc::new(Description {
                kind: function.into(),
                site: Some("src/main.rs:9 demo::parse".into()),
                site_full: Some("src/main.rs:9 demo::parse".into()),
                frames: vec![merged_frame, frame("demo::parse", 9)].into(),
                merged_call: true,
            }),
        );
        let mut objs = plain.objs().to_vec();
        for (serial, size) in [(6, 5), (7, 3), (8, 7)] {
            objs.push(Obj {
                addr: 0x1000 + serial as usize * 64,
                size,
                serial,
                thread: 1,
                ctx: (1 << 23) + 2,
            });
        }
        let h = Heap::from_parts(objs, Arc::new(meta));
        let text = h.to_string();
        let note = text.lines().last().unwrap();
        assert!(
            note.starts_with("<3 objects (15 bytes) named after the function that allocated"),
            "{text}"
        );
        assert!(note.contains("-pick-merged-source-locations"), "{text}");
        assert!(!h.bysite().to_string().contains("merged"));
    }
}
