"""The metric engine: named, versioned scorers and benchmark aggregation."""
