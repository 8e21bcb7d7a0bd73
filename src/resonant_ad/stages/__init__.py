"""What rules call: train a flow, sample, map to latents, decorrelate, train and score
classifiers, evaluate. One signature style; the mass column is a parameter."""
