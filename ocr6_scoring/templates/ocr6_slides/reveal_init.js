// reveal.js, when the build found a local copy (--reveal-dir, $OCR6_REVEAL_DIR or node_modules/reveal.js)
Reveal.initialize({controls: true, progress: true, hash: true, slideNumber: 'c/t', transition: 'none',
                   width: 1100, height: 760, margin: 0.04, plugins: typeof RevealNotes === 'undefined' ? [] : [RevealNotes]});
