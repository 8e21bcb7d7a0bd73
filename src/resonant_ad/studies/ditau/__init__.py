"""The event-level di-τ study: objects, selection, features, flow, classifiers."""
