"""The decoder: frames in, Diia codes out.

`decode` (the decoders and `make_decoder`), `reads` (what a decoder is and reads),
`corroborate` (a 1D read confirmed by a second reading), `assist`, `regions`, `zbar` (the
second look at hard frames), `confirm` (2-of-3 frames), `stillness` (an unchanged view is
not decoded again); `code_images` draws codes as the Diia app shows them, for the demo, the
tests and the benchmarks. Import from the module that defines a name: nothing is re-exported.
"""
