//! Configuration: INI reader, workers, buildouts, requirements and the builder matrix.
