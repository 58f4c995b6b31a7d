// The Embeddings target: not built yet (see the open issues). The layering of docs/ARCHITECTURE.md holds from the start.
import NN
import Corpus
