"""The EU list of operations (Regulation (EU) 2021/1060, Article 49(3)): a public export."""
