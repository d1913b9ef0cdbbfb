"""The run record: what a run directory holds and who a run is, below everything that trains or sweeps.

- `identity`: which sweep trial a process runs (`LIT_GEN_TRIAL`), and the storage URL's variable name;
- `record`: the run directory of a trainer and the single writer of its `metrics.json`;
- `trial_end`: the one record a sweep trial leaves when it ends (state, value, reason, seconds);
- `history`: a resumed run's earlier rows of `metrics.csv`, so the file keeps the whole curve.
"""
