// The provider's signing keys (tests/upstreams/oidc_provider.mjs), shared with
// forge_token.mjs, which signs tokens the provider would never issue.
// Generated once (crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
// exported as JWK). Test keys: never use them anywhere else.
export const KEY_SETS = {
  1: {
    kty: 'RSA',
    kid: 'mcpo-test-key-1',
    alg: 'RS256',
    use: 'sig',
    n: 'wcJt1FGkqINSvK9DnuDjrziiYnsKU9rGbg2kwqs7tDQogVuXrtSCtjT_9a7EXkoGGi6jlqDj-AnFTRyXkjzAC5lc5o0spb0Q8_CUgZX_tYxB6fBhyjGH9Ipmp2yYTv6OAqUtZGaMgI275O660HEHd7jqfEvCYW9tWQBr9o1rW2Z4Pzhu2_xHiawpil4YGEzRMWql1SwhjQKgKzi78kD-q4qN-rr2CkRalF2kLFd-HFS5swLq94Vhe6v-al7b2oWZ_1xny5VyYbPmmMbngZU-XV5vES6tIF7BjMGslAXwi8i-E8DWtvQt7icVKyXw03KMfqfWIuAnBvZncCfsimOU6Q',
    e: 'AQAB',
    d: 'Su6nTOIaHLVUzPW23_227--mFRHiZ5WHAc6y9joEh-dX9tb2LT2wI0kR5_CjrpdQDtYUm88y-pzEudKh54Mo_hNccykLqDkbEkvrEsZwssRARXmaR_ipzG-tzXfY20vkna9Fg7uJALpPfPS6OJxNuAZCYLlnvgi6sB3SovIEH78ujgMdwObZF6RVBxgtrb6faMuyyKgUDoa36MlIE1O1sTJgZauV-_QQx-wRcca-puxthouAAj-BWuSzuMMy0ffxYkIDASBgNUYCmMKXH1GHyanlSWdpVjVMbqGLZXmGNkHXuf5jNC8XvMq0rJT5AyZkzdzlBW89-_4CKQhwrrfxhQ',
    p: '_D5qwcTIZW5ZMwo5DBoJePW0FRKFnc2NsdCKYB0z_f7koH9AVDseU0hDg3zJ6Hu_mhtP4ZOQu4pV61t_H2oEcvork5cRekAMJP8fY8OfT6KdwELa4xsHA16CLeHpTCOwuD5RlvPRoka78D2pZMUTDdr6PQUROKT_DMHDFybvess',
    q: 'xKUQGaGyOMPZNqUue60sHJhTFrs1KyENF6aI5Z5eRZ9Dn10d5Ek0LqER5u6ZY0TbqVrnTT-4Nc08btFFab57zj51C7oP2_6k9a5owr2PZnCjOEhI_oSAxnQqKYHKlofUVCKkejBCSuPYlGUm6w-ul9FOPUnYJhhkuNvhh0n5NJs',
    dp: 'j0FTmCCOPyzgc-BGbd0LrCq-z4jpYamv42Cwdc2gDYyJg61Bd5TrsBjGXxKsCODe_EKup0oLVLdH_JbGJ60qQbJatUOCpY9iVlCeHyamf6-3L83ISlq7LOqrvCslOBy87KZX6Aco86SAb_xVC-nw3FmU7LrIAQeT4kbY6XkvYOk',
    dq: 'ahz8bChySOl-fFt0ku6m4CNequSI02Y5b2rBcs8b5gwEbKnN6JOMIiFuzKQyh3vv4RqZuHjLCdVfaBlrkJ1mp6vSc2qLBlcKYz0jcPrjuA7ONR_kq9uKtgyXd-B_Fu3jKSesg_covsrm42UWNEA5Idmjk7UWe7AsIgkdUWkcnkM',
    qi: 'HFCbyrl92G73_DGAIPII_BxP7HFfjdfpTV-FbTsj_YMjMzJ2LwqzYHF075J4EDMsBmvA5bDqSG9zmOyg44FwyNmd5b3142SCFSEx0gHFIhja0FmQMlBNVtoJrFkmSGNBxs31jo1q49muPee_PlFPuRE1tPNpCf7Y4v6P7SLW8Go',
  },
  2: {
    kty: 'RSA',
    kid: 'mcpo-test-key-2',
    alg: 'RS256',
    use: 'sig',
    n: 'nljQKgp9qykhKAe_6yobx1Kb9cIH8MJGwd62zADacvO9EKmgT-gBDGzQT7WCi3hmtHxnh4j8VH3kt-Dmn4phuR3M5aIAFVFrulJZUZBFv9fJrYmdqPbNkPNLB3noiLL_SlGGZuX_qhOfa41sSbPVXBT5KPUc0BxJUJXJXSRx84pNO-fKOK-HGzGcfLVqOM1wEhksRktBbnjnpm2HgDg00Px75hRKmUuz_Lue3G7rMhnYOZOhI-_syJZR1fBjFB19tKV9jxU2DtCFIOzo7M9j4t1-RzFV7LAo4ABOc36eAhgn89Vsbc6qEpS_AFZhJfSJtS5tHJkADQdrzWdCsY_aaw',
    e: 'AQAB',
    d: 'z7QWJkJpYecq_SP6ALFui2xqWiZcqnIrkVUrpTl5UbX_Sg82bM1MksyPPzI-PecXN6f3WGrw9-NeU22uSMqiMZZLx7e3_dg1qf30Xm8TdSr-xtZWKxjEjF3Ipp91ZXPMN3y4nECu6DWh56Vm_0ZLMX3q75th_My3XmOCWBFDAS-8kTtsXOfhVIjKJGElYJUIhEZkXIkrkJYf6YPYbFUqVGFkbnrAx4jhTK9UKkkWwOX3ur5kNpkczv4LyXzV9EJRmEjAj1TcjrK6xxURHE3oO4fTVE9oej2pabZGx8SKQSWLrSRzRJCIy3ra44Yb04BrUJEEkeAlt6mkBDTpskkB',
    p: '3GIZZ6O_Vw4JTVRiHxjIfXgzrrOUDp7K6yh8uPJxGwhKoyC4L8ZDCcYqyLlau3XDCFXUr0vuamGVp00TCioaVMRR9UhqnXTvL9SxPo9CzmSismwI2DtrMrP0H8x5pVnrqxfqc-63duS8ff5z6b4YrQHqlLnNhhSbDbKlnBAR6-s',
    q: 't_AXRhLIDgXT5qf3vkYxKAsZtJZuEG2sZLUa6-AhEVm8lE1PTxPEdvTgjr36rrcDKki_63kGI91kpV3EBQXXpmHDVZ8wTCUeGmLKMU7vETIeFl58PuIs6tkfelxGSjZdIEqLlFCTT2rSkw-fiIVHKufg8UmQ1oar-vAHO11Wq4E',
    dp: 'p9IEKonlQPOtXbeuaKPEuNb59EVHr8J4H47bOzNTshQkUgiueaLuldjT57pOP4YzmHtT1JFr4pKhFZ95qjnZh0dgafpVRcYwBipfNpZ9dxHnWxstuQu2XAvxEO3yjFnnPoidvt6_0sfoScGknxBlVgmpisvamAnE8S9jMW6DVzU',
    dq: 'ESD7mdvv41ZpmEY2DPMOatM1zppfn4oHDs3KtwKFMc9wf0L_yrZlikpdiw1oBdMnKU3jCXOYvchFMh0cPvd_UJA0F4oefkjKl9xxRcw6-Rf4s06TNWvskOYtR0DGjuynGXW3r9UdEr045NcEnTsEGJvFV9Lo-QFLjK_DjKSxiIE',
    qi: 'ec1zCmFIWb_RBioTHWnDhesFVjQCxC79lySFD8MwRMnaq9YrUZmvNDx-HxqVor7kjejxb7rPbc03ipHBeUqJqV_2zDIc-x3TDQs1i3Ls9jyn3YGBVnkTvH8rnX5iBGsvfRuSfREWKKGIkPo2Bc7yUAFJAXNm6WozEvBMXJMAm3Y',
  },
};

