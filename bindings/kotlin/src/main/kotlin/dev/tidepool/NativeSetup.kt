// One-time setup of the JNA side of the native library.
package dev.tidepool

import com.sun.jna.CallbackThreadInitializer
import com.sun.jna.Native
import dev.tidepool.ffi.uniffiRustFutureContinuationCallbackImpl

internal object NativeSetup {
    init {
        // The library's runtime threads wake suspended calls through this callback. JNA would
        // attach such a thread to the JVM for each call and detach it afterwards, which costs
        // more than a local query; keep them attached (as daemons) instead.
        Native.setCallbackThreadInitializer(
            uniffiRustFutureContinuationCallbackImpl,
            CallbackThreadInitializer(true, false, "tidepool-native"),
        )
    }

    fun ensure() = Unit
}
