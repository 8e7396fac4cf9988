"""Answering: the Answer types, question typing, evidence features, abstention, the answerers."""
