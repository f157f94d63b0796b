//! Matrix kernels: see issue 3. (being written)
