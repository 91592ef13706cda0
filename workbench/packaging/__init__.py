"""Model artifacts and images: manifests of checksums, verification before every load."""
