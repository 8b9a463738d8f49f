"""Paper-trading kernels: order matching against bars and quotes, position accounting, the book."""
