package dev.pocketlm.samples

import java.io.File
import java.io.FileOutputStream
import java.io.IOException
import java.io.InputStream

/**
 * Puts the model file where the samples load it from (the app's `filesDir`): the bytes go to a
 * temporary file in the same directory, are synced, then renamed over the old file in one step, so
 * a reader never sees half a model and a failed copy leaves the old one in place. A process that
 * has the old file mapped keeps its mapping ([SharedModel] loads the new file on its next use).
 */
object ModelInstaller {
    const val FILE_NAME = "pocketlm-model.gguf"
    private val GGUF_MAGIC = byteArrayOf('G'.code.toByte(), 'G'.code.toByte(), 'U'.code.toByte(), 'F'.code.toByte())

    /** Where the model of an app whose files directory is [dir] lives. */
    fun modelFile(dir: File): File = File(dir, FILE_NAME)

    /**
     * Copies [input] (not closed here) to [modelFile] of [dir]; returns the file.
     * @throws IOException when the copy fails or the data is not a GGUF file
     */
    fun install(input: InputStream, dir: File): File {
        if (!dir.isDirectory && !dir.mkdirs()) throw IOException("cannot create $dir")
        val target = modelFile(dir)
        val tmp = File.createTempFile("$FILE_NAME.", ".part", dir)
        try {
            FileOutputStream(tmp).use { out ->
                val head = ByteArray(GGUF_MAGIC.size)
                var got = 0
                while (got < head.size) {
                    val n = input.read(head, got, head.size - got)
                    if (n < 0) break
                    got += n
                }
                if (got < head.size || !head.contentEquals(GGUF_MAGIC)) {
                    throw IOException("not a GGUF model file (it does not start with \"GGUF\")")
                }
                out.write(head)
                input.copyTo(out, 1 shl 16)
                out.flush()
                out.fd.sync()
            }
            if (!tmp.renameTo(target)) throw IOException("cannot rename $tmp to $target")
            return target
        } finally {
            tmp.delete()
        }
    }
}
