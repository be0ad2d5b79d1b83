"""The format layer: every event-file format and the DV network stream, decoded here and nowhere else.

- ``aedat4``: the AEDAT4 container (reader with random access by time, writer) and the DV
  network stream's incremental decoder, one bounded packet codec for both;
- ``aedat3`` / ``aedat2``: AEDAT 3.1 (DVS128 Gesture) and 2.0 (jAER), whole or in chunks;
- ``prophesee``: EVT 2.0 / 3.0 ``.raw``, DAT and HDF5, in blocks indexed by time (``evt``: the
  EVT 2.0 / 3.0 / DAT codecs, their state carried across any cut; h5py for HDF5);
- ``compiled``: the numba kernels of the AEDAT 3.1 and EVT decoders, loaded on first use;
- ``detect``: which format a file is, from its first bytes; ``files``: any recording, whole
  or opened for range reads (for datasets and takes); ``common``: the checks they share.

Every reader checks what a file declares before using it and fails with one
:class:`eventcore.errors.SourceError` line naming the file. ``app/`` imports no codec
(``tests/test_layers.py``).
"""
