/*
 * WebM muxing with libavformat: one VP8 video stream (the camera), one Opus
 * audio stream and a second VP8 stream for a shared screen (any may be
 * absent; the screen's is titled "screen" and not marked default, so a
 * player shows the camera). Frame times are session-clock
 * microseconds; they are made relative to the session start t0 and
 * rescaled to each stream's time base (Matroska uses 1/1000), so a stream
 * that started later begins later in the file: that is the A/V alignment.
 * Frames are written through av_interleaved_write_frame in time order.
 */
#include "recorder/process_internal.h"
#include "recorder/tool.h"

#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mem.h>
#include <stdio.h>
#include <string.h>

static int add_opus_stream(AVFormatContext *oc, int channels, AVStream **out)
{
    AVStream *st = avformat_new_stream(oc, NULL);
    if (!st)
        return -1;
    AVCodecParameters *cp = st->codecpar;
    cp->codec_type = AVMEDIA_TYPE_AUDIO;
    cp->codec_id = AV_CODEC_ID_OPUS;
    cp->sample_rate = 48000;
    av_channel_layout_default(&cp->ch_layout, channels);
    /* OpusHead (RFC 7845 5.1): version 1, channels, pre-skip 0, 48 kHz, gain 0, family 0. */
    cp->extradata = av_mallocz(19 + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!cp->extradata)
        return -1;
    memcpy(cp->extradata, "OpusHead", 8);
    cp->extradata[8] = 1;
    cp->extradata[9] = (uint8_t)channels;
    cp->extradata[12] = 0x80; /* 48000 little-endian: 80 bb 00 00 */
    cp->extradata[13] = 0xbb;
    cp->extradata_size = 19;
    st->time_base = (AVRational){1, 48000};
    *out = st;
    return 0;
}

static int add_vp8_stream(AVFormatContext *oc, const rec__frames *video, AVStream **out)
{
    AVStream *st = avformat_new_stream(oc, NULL);
    if (!st)
        return -1;
    int w = 0, h = 0;
    for (size_t i = 0; i < video->n; i++) {
        if (video->v[i].width > w)
            w = video->v[i].width;
        if (video->v[i].height > h)
            h = video->v[i].height;
    }
    st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    st->codecpar->codec_id = AV_CODEC_ID_VP8;
    st->codecpar->width = w;
    st->codecpar->height = h;
    st->time_base = (AVRational){1, 90000};
    *out = st;
    return 0;
}

static int write_frame(AVFormatContext *oc, AVStream *st, AVPacket *pkt, const rec__frame *f,
                       int64_t t0_us)
{
    static const AVRational us = {1, 1000000};
    av_packet_unref(pkt);
    pkt->data = f->data;
    pkt->size = (int)f->len;
    pkt->stream_index = st->index;
    pkt->pts = pkt->dts = av_rescale_q(f->t_us - t0_us, us, st->time_base);
    pkt->duration = f->duration_us ? av_rescale_q(f->duration_us, us, st->time_base) : 0;
    pkt->flags = f->key ? AV_PKT_FLAG_KEY : 0;
    return av_interleaved_write_frame(oc, pkt);
}

int rec__mux_webm(const char *path, const rec__frames *audio, int channels,
                  const rec__frames *video, const rec__frames *screen, int64_t t0_us, char *err,
                  size_t errlen)
{
    AVFormatContext *oc = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVStream *as = NULL, *vs = NULL, *ss = NULL;
    char averr[128];
    int rc;
    if (!pkt || avformat_alloc_output_context2(&oc, NULL, "webm", path) < 0 || !oc) {
        snprintf(err, errlen, "cannot create a WebM muxer");
        goto fail;
    }
    if ((video->n && add_vp8_stream(oc, video, &vs) != 0) ||
        (audio->n && add_opus_stream(oc, channels < 1 ? 2 : channels, &as) != 0) ||
        (screen->n && (add_vp8_stream(oc, screen, &ss) != 0 ||
                       av_dict_set(&ss->metadata, "title", "screen", 0) < 0))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (vs)
        vs->disposition = AV_DISPOSITION_DEFAULT;
    if (as)
        as->disposition = AV_DISPOSITION_DEFAULT;
    if (ss)
        ss->disposition = 0;
    if ((rc = avio_open(&oc->pb, path, AVIO_FLAG_WRITE)) < 0 ||
        (rc = avformat_write_header(oc, NULL)) < 0) {
        av_strerror(rc, averr, sizeof averr);
        snprintf(err, errlen, "%s: %s", path, averr);
        goto fail;
    }
    /* the three lists merged in time order (audio first on a tie) */
    const rec__frames *lists[3] = {audio, video, screen};
    AVStream *streams[3] = {as, vs, ss};
    size_t at[3] = {0, 0, 0};
    for (size_t written = 0;; written++) {
        if ((written & 1023) == 0 && rec_tool_cancelled()) {
            snprintf(err, errlen, "writing %s: cancelled (shutting down)", path);
            goto fail;
        }
        int k = -1;
        for (int i = 0; i < 3; i++)
            if (at[i] < lists[i]->n && (k < 0 || lists[i]->v[at[i]].t_us < lists[k]->v[at[k]].t_us))
                k = i;
        if (k < 0)
            break;
        const rec__frame *f = &lists[k]->v[at[k]++];
        if ((rc = write_frame(oc, streams[k], pkt, f, t0_us)) < 0) {
            av_strerror(rc, averr, sizeof averr);
            snprintf(err, errlen, "writing %s: %s", path, averr);
            goto fail;
        }
    }
    if ((rc = av_write_trailer(oc)) < 0) {
        av_strerror(rc, averr, sizeof averr);
        snprintf(err, errlen, "finishing %s: %s", path, averr);
        goto fail;
    }
    avio_closep(&oc->pb);
    avformat_free_context(oc);
    av_packet_free(&pkt);
    return 0;
fail:
    if (oc) {
        if (oc->pb)
            avio_closep(&oc->pb);
        avformat_free_context(oc);
    }
    av_packet_free(&pkt);
    return -1;
}
